"""Test harness: one real database per run (SQLite file, or PostgreSQL via PMO_TEST_DATABASE_URL),
migrated and seeded once; every test starts from master data only."""

import csv
import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from pmo.config import PROJECT_ROOT
from pmo.db import Base, reset_engines, session_scope
from tests.serverproc import cli, drop_database, fresh_database

MASTER_TABLES = {"bodies", "operations", "steps", "alembic_version"}
with (PROJECT_ROOT / "seeds" / "operations.csv").open(encoding="utf-8") as _seed:
    OPERATION_CODES = tuple(row["code"] for row in csv.DictReader(_seed))  # the 20 operations, in order


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A migrated, seeded database for the whole run; PMO_DATABASE_URL points at it."""
    url = fresh_database(tmp_path_factory.mktemp("db"))
    os.environ["PMO_DATABASE_URL"] = url
    os.environ.pop("PMO_STATS_DATABASE_URL", None)
    os.environ["PMO_WARM_CACHE"] = "false"  # tests change data under the cache; a background load would race them
    reset_engines()
    from pmo.cli import db_upgrade, seed

    db_upgrade("head")
    seed(None)
    yield url
    reset_engines()
    drop_database(url)


@pytest.fixture(autouse=True)
def clean_database(request) -> Iterator[None]:
    """After each test that touched the database, delete everything but master data."""
    yield
    if "database_url" not in request.fixturenames:
        return
    with session_scope() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in MASTER_TABLES:
                session.execute(table.delete())
    from pmo import caching
    from pmo.throttle import failures

    caching.clear_all()  # revision ids restart after the delete, so a cache's data version would lie
    failures.clear()  # every test's client is "testclient": one test's failed sign-ins must not lock the next out


@pytest.fixture
def client(database_url) -> Iterator[TestClient]:
    from pmo.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def token_for(database_url) -> Callable[..., dict[str, str]]:
    """token_for(role, body=None) → Authorization headers of a fresh account with that role."""
    from pmo.accounts import service

    def make(
        role: str,
        body: str | None = None,
        *,
        days: int = 30,
        organization: str | None = None,
        operations: list[str] | None = None,
        administrator: bool = False,
    ) -> dict[str, str]:
        if role in ("vendor", "ministry") and organization is None:
            organization = "総務省" if role == "ministry" else "テスト情報システム株式会社"
        with session_scope() as session:
            account = service.create_account(
                session,
                f"{role}-{secrets.token_hex(4)}",
                role,
                body,
                actor="test",
                organization=organization,
                operations=operations,
                administrator=administrator,
            )
            issued = service.issue_token(session, account, actor="test", ttl_days=days)
        return {"Authorization": f"Bearer {issued.token}"}

    return make


@pytest.fixture
def prepared(tmp_path) -> Iterator[str]:
    """Another migrated, seeded database, for tests that run the service or the CLI in other processes."""
    url = fresh_database(tmp_path)
    cli(url, "db", "upgrade")
    cli(url, "seed")
    yield url
    drop_database(url)


class FakeClock:
    """The time pmo.caching judges age by, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    """Caches age only when the test says so."""
    from pmo import caching

    clock = FakeClock()
    monkeypatch.setattr(caching.clock, "now", clock)
    return clock
