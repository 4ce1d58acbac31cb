"""SQLite writers take turns: one write transaction at a time per database file, queued on a lock in the
process and on a file lock across processes. Without it, writers that find the database locked sleep in
SQLite's busy handler (1, 2, 5 … 100 ms at a time) and the unlucky ones starve for seconds under load."""

import fcntl
import os
import sqlite3
import threading
import time

TIMEOUT_SECONDS = 30.0  # as PRAGMA busy_timeout: then the writer gives up with "database is locked"
_turns: dict[str, "Turn"] = {}
_turns_lock = threading.Lock()


class Turn:
    """The writers' turn of one database file."""

    def __init__(self, path: str):
        self.path = f"{path}-writer.lock"
        self.lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def take(self) -> None:
        """Wait for the turn; sqlite3.OperationalError after TIMEOUT_SECONDS."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        if not self.lock.acquire(timeout=TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (waited for the writer turn)")
        try:
            while True:  # one thread per process gets here; other processes' writers are polled for briefly
                try:
                    fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise sqlite3.OperationalError("database is locked (waited for the writer turn)") from None
                    time.sleep(0.0005)
        except BaseException:
            self.lock.release()
            raise

    def give_back(self) -> None:
        fcntl.flock(self._file(), fcntl.LOCK_UN)
        self.lock.release()


def turn_for(path: str) -> Turn:
    """The one Turn of this process for a database file."""
    key = os.path.realpath(path)
    with _turns_lock:
        return _turns.setdefault(key, Turn(key))


class TurnTakingConnection(sqlite3.Connection):
    """A write connection that holds its database's turn from BEGIN IMMEDIATE until it commits or rolls back."""

    turn: Turn | None = None
    _holding = False

    def begin_immediate(self) -> None:
        """Take the turn, then the database's write lock."""
        if self.turn is not None and not self._holding:
            self.turn.take()
            self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._give_back()
            raise

    def _give_back(self) -> None:
        if self._holding:
            self._holding = False
            if self.turn is not None:  # always: a connection holds only a turn it took
                self.turn.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()
