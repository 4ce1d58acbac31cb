"""Helpers for tests that run the real service or CLI in another process."""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
PMO = [sys.executable, "-m", "pmo.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(tmp_path: Path) -> str:
    """A new empty database of the kind the suite runs on: a SQLite file, or a throwaway PostgreSQL database
    (so parallel runs and leftovers never interfere) when PMO_TEST_DATABASE_URL names a PostgreSQL server."""
    base = os.environ.get("PMO_TEST_DATABASE_URL")
    if base and make_url(base).get_backend_name() != "postgresql":
        return base
    if not base:
        return f"sqlite:///{tmp_path / f'db-{secrets.token_hex(3)}.sqlite3'}"
    url = make_url(base)
    name = f"pmo_test_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
    env.update(PMO_DATABASE_URL=database_url, **extra)
    return env


def cli(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `pmo ARGS` against database_url in a new process."""
    return subprocess.run(
        [*PMO, *args], env=env_for(database_url), cwd=ROOT, capture_output=True, text=True, check=check, timeout=600
    )


class Server:
    """`pmo serve` in a subprocess on a free loopback port."""

    def __init__(self, database_url: str, workers: int = 1, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The server logs a line per request: into a file, never a pipe nobody drains (a full pipe blocks
        # the server's logging, and with it every request, once about 200 lines are written).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 — closed by stop()
        self.process = subprocess.Popen(
            [*PMO, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env_for(database_url, **env),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        said = self.output()[-3000:]  # before stop() closes the log
        self.stop()
        raise RuntimeError(f"pmo serve did not start within 60 s (exit code {self.process.returncode}):\n{said}")

    def output(self) -> str:
        """What the server has logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        """kill -9 the server (and, with several workers, its whole process group's children)."""
        subprocess.run(["pkill", "-9", "-P", str(self.process.pid)], check=False)
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
