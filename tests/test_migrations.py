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

import pmo.models
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
    not os.environ.get("PMO_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PMO_TEST_DATABASE_URL is not PostgreSQL",
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


CELL_COLUMNS = (
    "body_id, operation_id, step_id, period, revision_id, status, planned_start, planned_end, actual_end, note"
)


def test_packed_cells_migration_converts_history_both_ways(tmp_path):
    """0008 turns cell rows into packed rows and back without losing a value (a correction included)."""
    from pmo.config import get_settings
    from pmo.directory.seed import load_seeds
    from pmo.reports.grid import grid_position, grid_template, load_catalog
    from pmo.reports.history import current_cells, replayed_cells

    def position(op_id: int, step_id: int) -> int:
        return grid_position((op_id, step_id))

    from sqlalchemy.orm import Session

    from tests.serverproc import drop_database, fresh_database

    url = fresh_database(tmp_path)
    engine = build_engine(url)
    try:
        _migrate(engine, "0007")
        with Session(engine) as s:
            load_seeds(s, get_settings().seeds_dir)
            s.commit()
        revisions = [(1, 131016, 202509, 1), (2, 131016, 202510, 1), (3, 131016, 202509, 2), (4, 130001, 202510, 1)]
        versions = [  # chiyoda: koseki S01 twice, S02 with months and a note, corrected in 2025-09 revision 2
            (131016, 11, 1, 202509, 1, 2, 202508, 202511, None, "調整中"),
            (131016, 11, 1, 202510, 2, 1, 202508, 202511, 202510, None),
            (131016, 11, 2, 202509, 1, 2, None, 202512, None, None),
            (131016, 11, 2, 202509, 3, 4, None, None, None, "訂正"),
            (130001, 18, 40, 202510, 4, 1, None, None, 202510, None),
        ]
        newest = [versions[1], versions[3], versions[4]]
        with engine.begin() as conn:
            for rev_id, body, period, n in revisions:
                conn.execute(
                    text(
                        "INSERT INTO report_revisions (id, body_id, period, revision, submitted_at, submitted_by, "
                        "late, n_changed, source) "
                        "VALUES (:i, :b, :p, :n, '2025-11-01 00:00:00', 'test', false, 1, 'api')"
                    ),
                    {"i": rev_id, "b": body, "p": period, "n": n},
                )
            names = ("b", "o", "s", "p", "r", "st", "ps", "pe", "ae", "n")
            for table, rows in (("cell_versions", versions), ("cells", newest)):
                conn.execute(
                    text(f"INSERT INTO {table} ({CELL_COLUMNS}) VALUES ({', '.join(':' + n for n in names)})"),
                    [dict(zip(names, row, strict=False)) for row in rows],
                )
        _migrate(engine, "head")
        with Session(engine) as s:
            catalog = load_catalog(s)
            chiyoda = s.get(pmo.models.Body, 131016)
            template = grid_template(catalog, chiyoda)
            now = current_cells(s, 131016, template)
            assert now == replayed_cells(s, 131016, template)
            assert (
                now.value(position(11, 1)) == (1, 202508, 202511, 202510, None)
                and now.updated_period(position(11, 1)) == 202510
            )
            assert (
                now.value(position(11, 2)) == (4, None, None, None, "訂正")
                and now.updated_period(position(11, 2)) == 202509
            )
            assert (
                now.value(position(11, 3)) == (3, None, None, None, None)
                and now.updated_period(position(11, 3)) is None
            )
            september = replayed_cells(s, 131016, template, 202509)
            assert september.value(position(11, 1)) == (2, 202508, 202511, None, "調整中")
            tokyo = current_cells(s, 130001, grid_template(catalog, s.get(pmo.models.Body, 130001)))
            assert (
                tokyo.value(position(18, 40))[0] == 1 and tokyo.value(position(1, 1))[0] == 0
            )  # prefectures: not 児童手当
        _migrate(engine, "0007", down=True)
        with engine.connect() as conn:
            order = "ORDER BY body_id, operation_id, step_id, period, revision_id"
            assert [
                tuple(r) for r in conn.execute(text(f"SELECT {CELL_COLUMNS} FROM cell_versions {order}"))
            ] == sorted(versions)
            assert [tuple(r) for r in conn.execute(text(f"SELECT {CELL_COLUMNS} FROM cells {order}"))] == sorted(newest)
    finally:
        engine.dispose()
        drop_database(url)
