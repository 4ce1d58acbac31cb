"""Crashes and outages: kill -9 mid-write leaves whole submissions or none; a database outage is a
quick 503, and the service recovers by itself."""

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pmo import periods
from pmo.accounts import service as accounts
from pmo.db import PING_AFTER_IDLE_SECONDS, build_engine
from pmo.models import Body, BodyCells, BodyPeriod, ReportRevision, RevisionCells
from pmo.reports.cellgrid import CellGrid, unpack_changes
from pmo.reports.grid import grid_template, load_catalog
from pmo.reports.history import replayed_cells
from tests.conftest import OPERATION_CODES
from tests.serverproc import Server, cli

PERIOD = periods.fmt(periods.current())
CODES = ["011002", "012025", "012033", "012041", "012050", "012068"]


def tokens(url: str, codes: list[str]) -> dict[str, str]:
    engine = build_engine(url)
    out = {}
    with Session(engine) as s:
        for code in codes:
            account = accounts.create_account(s, f"m-{code}", "municipality", code, actor="test")
            out[code] = accounts.issue_token(s, account, actor="test", ttl_days=1).token
        s.commit()
    engine.dispose()
    return out


def check_integrity(url: str) -> None:
    """Every stored revision is whole: its cell versions number n_changed, its period summary exists."""
    engine = build_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        counts = {
            rev_id: len(unpack_changes(blob))
            for rev_id, blob in conn.execute(select(RevisionCells.revision_id, RevisionCells.cells))
        }
        for rev_id, n_changed in conn.execute(select(ReportRevision.id, ReportRevision.n_changed)):
            assert counts.get(rev_id, 0) == n_changed, f"revision {rev_id} is partial"
        per_period = {
            (b, p): n
            for b, p, n in conn.execute(
                select(ReportRevision.body_id, ReportRevision.period, func.count()).group_by(
                    ReportRevision.body_id, ReportRevision.period
                )
            )
        }
        summaries = {
            (b, p): n for b, p, n in conn.execute(select(BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.revisions))
        }
        assert summaries == per_period
    with Session(engine) as session:  # every body's current cells are its whole history replayed
        catalog = load_catalog(session)
        for body, blob in session.execute(select(Body, BodyCells.cells).join(BodyCells, BodyCells.body_id == Body.id)):
            template = grid_template(catalog, body)
            assert CellGrid.unpack(blob, template) == replayed_cells(session, body.id, template), body.code
    engine.dispose()


def full_grid(i: int) -> dict:
    statuses = ("done", "in_progress", "not_started", "not_applicable")
    return {
        "cells": [
            {"operation": op, "step": f"S{s:02d}", "status": statuses[(i + s) % 4]}
            for op in OPERATION_CODES
            for s in range(1, 41)
        ]
    }


def test_kill_9_during_submissions_keeps_every_acknowledged_one_whole(prepared):
    tok = tokens(prepared, CODES)
    server = Server(prepared, workers=1)
    acknowledged: list[tuple[str, int]] = []
    stop = threading.Event()

    def submit(code: str):
        i = 0
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                i += 1
                try:
                    r = client.put(
                        f"{server.url}/api/v1/bodies/{code}/reports/{PERIOD}",
                        json=full_grid(i),
                        headers={"Authorization": f"Bearer {tok[code]}"},
                    )
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.append((code, r.json()["revision_id"]))

    threads = [threading.Thread(target=submit, args=(c,)) for c in CODES]
    for t in threads:
        t.start()
    deadline = time.time() + 60  # kill once some submissions are through and more are in flight
    while len(acknowledged) < 3 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert acknowledged, "no submission was acknowledged before the kill"
    check_integrity(prepared)
    engine = build_engine(prepared)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(ReportRevision.id)))
    engine.dispose()
    assert {rev for _, rev in acknowledged} <= stored
    restarted = Server(prepared)
    try:
        r = httpx.put(
            f"{restarted.url}/api/v1/bodies/{CODES[0]}/reports/{PERIOD}",
            json=full_grid(99),
            headers={"Authorization": f"Bearer {tok[CODES[0]]}"},
            timeout=30,
        )
        assert r.status_code == 200
        assert httpx.get(f"{restarted.url}/readyz").status_code == 200
    finally:
        restarted.stop()
    check_integrity(prepared)


def test_kill_9_during_demo_leaves_no_partial_history(prepared):
    from tests.serverproc import PMO, ROOT, env_for

    process = subprocess.Popen(
        [*PMO, "demo"], env=env_for(prepared), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(6)
    assert process.poll() is None, "demo finished before it could be killed"
    process.kill()
    process.wait()
    engine = build_engine(prepared)
    with engine.connect() as conn:
        for table in ("report_revisions", "revision_cells", "body_cells", "body_periods", "systems"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
    engine.dispose()
    check_integrity(prepared)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.geteuid() != 0,
    reason="needs PostgreSQL server binaries and root (to run a private cluster as user postgres)",
)
def test_database_outage_is_a_quick_503_and_recovers(tmp_path):
    from tests.serverproc import free_port

    data = Path(f"/tmp/pmo-outage-{os.getpid()}")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    pg_ctl = [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log")]
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1"
    subprocess.run([*pg_ctl, "-o", options, "start"], check=True, capture_output=True)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    server = None
    try:
        cli(url, "db", "upgrade")
        cli(url, "seed")
        [token] = tokens(url, ["131016"]).values()
        headers = {"Authorization": f"Bearer {token}"}
        server = Server(url)
        assert httpx.get(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers).status_code == 200
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=True, capture_output=True)
        for path in (f"/api/v1/bodies/131016/reports/{PERIOD}", "/api/v1/stats/progress", "/readyz"):
            started = time.perf_counter()
            r = httpx.get(f"{server.url}{path}", headers=headers, timeout=30)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.json()["error"] == "service_unavailable"
            assert time.perf_counter() - started < 6, "an outage must not hang requests"
        put = httpx.put(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers, json={}, timeout=30)
        assert put.status_code == 503
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        subprocess.run([*pg_ctl, "-o", options, "start"], check=True, capture_output=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if httpx.get(f"{server.url}/readyz").status_code == 200:
                break
            time.sleep(0.5)
        assert httpx.get(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers).status_code == 200
        assert (
            httpx.put(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers, json={}).status_code
            == 200
        )
        # a restart while the service is quiet: pooled connections are pinged after sitting idle, so the
        # first requests afterwards succeed instead of failing on a dead connection
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=True, capture_output=True)
        subprocess.run([*pg_ctl, "-o", options, "start"], check=True, capture_output=True)
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.5)
        assert httpx.get(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers).status_code == 200
        assert (
            httpx.put(f"{server.url}/api/v1/bodies/131016/reports/{PERIOD}", headers=headers, json={}).status_code
            == 200
        )
    finally:
        if server:
            server.stop()
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
