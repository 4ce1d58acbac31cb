"""pmo backup / pmo restore round-trip a dataset with nothing lost."""

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from pmo.cli import app
from pmo.db import Base, session_scope
from pmo.demo import review as review_demo
from pmo.demo.reports import generate


def fingerprint() -> dict[str, str]:
    """A hash of every row of every table, in primary-key order."""
    out = {}
    with session_scope(read_only=True) as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest() + f":{len(rows)}"
    return out


def test_backup_and_restore_round_trip(database_url, client, token_for, tmp_path):
    codes = ["011002", "131016", "163210", "160008", "472018"]
    with session_scope() as s:
        generate(s, seed=3, now=datetime(2026, 11, 20, tzinfo=UTC), only=codes)
        review_demo.generate(s, seed=3, now=datetime(2026, 11, 20, tzinfo=UTC), only=codes)
    token_for("admin")
    before = fingerprint()
    assert int(before["revision_cells"].split(":")[1]) > 200 and int(before["body_cells"].split(":")[1]) == len(codes)
    runner = CliRunner()
    target = tmp_path / "pmo.backup"
    result = runner.invoke(app, ["backup", str(target)])
    assert result.exit_code == 0, result.output
    # change things after the backup: a new report and a new account
    headers = token_for("municipality", "131016")
    assert (
        client.put(
            "/api/v1/bodies/131016/reports/2026-11",
            headers=headers,
            json={"cells": [{"operation": "koseki", "step": "S40", "status": "done"}]},
        ).status_code
        == 200
    )
    assert fingerprint() != before
    result = runner.invoke(app, ["restore", str(target)])
    assert result.exit_code == 0, result.output
    assert fingerprint() == before
    assert runner.invoke(app, ["restore", str(tmp_path / "missing")]).exit_code == 1


def test_restore_works_on_a_new_server_with_or_without_the_statistics_role(database_url, token_for, tmp_path):
    import secrets

    import pytest
    from sqlalchemy import create_engine, make_url, text

    from pmo.backup import restore
    from tests.serverproc import drop_database, fresh_database

    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("roles and GRANTs are PostgreSQL's")
    token_for("admin")
    runner = CliRunner()
    role = f"pmo_stats_{secrets.token_hex(3)}"
    result = runner.invoke(app, ["db", "create-stats-role", "--name", role])  # the dump now holds GRANTs to it
    assert result.exit_code == 0, result.output
    target = tmp_path / "pmo.backup"
    assert runner.invoke(app, ["backup", str(target)]).exit_code == 0
    source = create_engine(database_url)
    for role_exists in (True, False):
        if not role_exists:  # a new server: the role was never made there
            with source.begin() as conn:
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        other = fresh_database(tmp_path)
        try:
            restore(target, other)
            engine = create_engine(other)
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT count(*) FROM bodies")) == 1788
                assert conn.scalar(text("SELECT count(*) FROM accounts")) == 1
            engine.dispose()
        finally:
            drop_database(other)
    source.dispose()
