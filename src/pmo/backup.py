"""`pmo backup` / `pmo restore`: SQLite through its online backup API, PostgreSQL through pg_dump/pg_restore."""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import URL, make_url

from pmo.config import get_settings


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


def _pg_env_and_args(url: URL) -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    return env, args


def _database(url: URL) -> str:
    if url.database is None:
        raise BackupError("データベース URL にデータベース名がありません。")
    return url.database


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} が見つかりません（PostgreSQL のクライアントをインストールしてください）。")
    return path


def backup(target: Path, database_url: str | None = None) -> Path:
    """Write a consistent copy of the database to target while the service keeps running."""
    url = make_url(database_url or get_settings().database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)  # online: other connections may keep writing
        finally:
            destination.close()
            source.close()
        return target
    env, args = _pg_env_and_args(url)
    result = subprocess.run(
        [_tool("pg_dump"), *args, "-Fc", "--no-owner", "-f", str(target), _database(url)],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return target


def restore(source: Path, database_url: str | None = None) -> None:
    """Replace the database's contents with a backup (stop the service first)."""
    if not source.exists():
        raise BackupError(f"{source} がありません。")
    url = make_url(database_url or get_settings().database_url)
    if url.get_backend_name() == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        live = sqlite3.connect(_database(url))
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
        return
    env, args = _pg_env_and_args(url)
    result = subprocess.run(
        # --no-privileges: a dump's GRANTs name roles (the statistics role) a new server may not have, and one
        # missing role would abort the whole single transaction: re-run `pmo db create-stats-role` instead.
        [
            _tool("pg_restore"),
            *args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "-d",
            _database(url),
            str(source),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
