"""Migrations: no drift from the models, and a full downgrade/upgrade round trip on a fresh database."""

import os
import secrets

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, make_url, text

import pmo.models  # noqa: F401  (registers every table)
from pmo.config import PROJECT_ROOT
from pmo.db import Base, build_engine, get_engine


def _config() -> Config:
    return Config(str(PROJECT_ROOT / "alembic.ini"))


def _diff(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, Base.metadata)


def _migrate(engine, revision: str, *, down: bool = False) -> None:
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_models_and_migrations_do_not_drift(database_url):
    with get_engine().connect() as connection:
        diff = _diff(connection)
    assert diff == [], f"models and migrations differ; write a migration (alembic revision --autogenerate): {diff}"


def test_the_session_database_is_at_head(database_url):
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with get_engine().connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_migrations_form_one_line():
    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, f"more than one head: {heads}; merge them"


def _round_trip(engine) -> None:
    expected = {t.name for t in Base.metadata.sorted_tables}
    _migrate(engine, "head")
    assert _tables(engine) == expected | {"alembic_version"}
    with engine.connect() as connection:
        assert _diff(connection) == []
    _migrate(engine, "base", down=True)
    assert _tables(engine) - {"alembic_version"} == set()
    _migrate(engine, "head")
    assert _tables(engine) == expected | {"alembic_version"}
    # and step by step, one revision at a time, down and up again
    revisions = list(ScriptDirectory.from_config(_config()).walk_revisions())
    for _ in revisions:
        _migrate(engine, "-1", down=True)
    assert _tables(engine) - {"alembic_version"} == set()
    for _ in revisions:
        _migrate(engine, "+1")
    assert _tables(engine) == expected | {"alembic_version"}


def test_round_trip_on_a_fresh_sqlite_file(tmp_path):
    engine = build_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        _round_trip(engine)
    finally:
        engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("PMO_TEST_DATABASE_URL", "").startswith("postgresql"), reason="PMO_TEST_DATABASE_URL is not PostgreSQL"
)
def test_round_trip_on_a_fresh_postgresql_database():
    url = make_url(os.environ["PMO_TEST_DATABASE_URL"])
    name = f"pmo_migr_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(url.set(database=name))
    try:
        _round_trip(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
