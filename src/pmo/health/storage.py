"""Whether the database can take writes: a write refused for lack of space makes the service unready
until a probe finds room again (SQLite: free space on the database's filesystem)."""

import shutil
import time
from pathlib import Path

from sqlalchemy import make_url

UNREADY_AFTER_FULL_SECONDS = 30.0
MIN_FREE_BYTES = 4 * 1024 * 1024
_last_full: float | None = None


def is_storage_full(exc: BaseException) -> bool:
    """Whether a driver error (SQLite's and psycopg's both arrive as OperationalError) says the disk, or
    the database's size limit, is full."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "53100":  # PostgreSQL disk_full
        return True
    text = str(orig).lower()
    return any(s in text for s in ("disk is full", "no space left", "could not extend file"))


def note_storage_full() -> None:
    """Remember that a write failed for lack of space (readiness answers 503 for a while)."""
    global _last_full
    _last_full = time.monotonic()


def write_problem(database_url: str) -> str | None:
    """Why writes cannot succeed now, in words for an operator; None when they can."""
    global _last_full
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        free = shutil.disk_usage(Path(url.database).resolve().parent).free
        if free < MIN_FREE_BYTES:
            return f"データベースのディスクの空きが {free // 1024} KB しかなく、書き込めません。"
    if _last_full is not None:
        if time.monotonic() - _last_full < UNREADY_AFTER_FULL_SECONDS:
            return "直前の書き込みが保存領域の不足（ディスクがいっぱい）で失敗しました。空きを作ってください。"
        _last_full = None
    return None
