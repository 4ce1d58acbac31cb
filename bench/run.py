#!/usr/bin/env python
"""Reporting benchmark: `pmo demo` load time and size, then submission / read latencies in process and
through HTTP, on SQLite and PostgreSQL. See bench/README.md for what each figure means.

    .venv/bin/python bench/run.py                 # both databases, full run
    .venv/bin/python bench/run.py --db sqlite --quick
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from inprocess import InProcessClient

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VAR = ROOT / "var" / "bench"
BIN = ROOT / ".venv" / "bin"
PMO = [str(BIN / "pmo")] if (BIN / "pmo").exists() else [sys.executable, "-m", "pmo.cli"]
CODE_ROOT = ROOT  # where the measured pmo lives (its src/, seeds/, alembic.ini); --commit points it elsewhere
CHILD_ENV: dict[str, str] = {}  # extra environment of the pmo subprocesses (PYTHONPATH for --commit)

STATUSES = ["done", "in_progress", "not_started", "not_applicable"]
OLD_PERIOD = "2024-04"
TARGETS = {  # figure -> {database: upper bound}; a database not named has no target
    "submit_p50_ms": {"sqlite": 50.0, "postgresql": 80.0},
    "submit_raw_ratio": {"sqlite": 2.0, "postgresql": 2.0},
    "nochange_p50_ms": {"sqlite": 10.0, "postgresql": 10.0},
    "grid_latest_p50_ms": {"sqlite": 20.0, "postgresql": 20.0},
    "demo_seconds": {"sqlite": 180.0},
}


# ----------------------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')} UTC] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def summary_ms(samples_s: list[float]) -> dict:
    ms = [x * 1000 for x in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "samples_ms": [round(x, 2) for x in ms],
    }


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_probe() -> float:
    """ms for a fixed pure-Python loop (median of 5): a gauge of how much CPU other work leaves us."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        sum(i * i for i in range(100_000))
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def phase(result: dict, name: str) -> None:
    """Note the machine's state as a phase starts (load average, CPU probe)."""
    result.setdefault("phases", {})[name] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg": loadavg(),
        "cpu_probe_ms": cpu_probe(),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args: list[str], env: dict, *, check: bool = True) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(PMO + args, cwd=CODE_ROOT, env={**env, **CHILD_ENV}, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and proc.returncode != 0:
        raise SystemExit(f"pmo {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout.strip()


# ------------------------------------------------------------------------------------- databases


class SqliteTarget:
    name = "sqlite"

    def __init__(self, args):
        self.path = VAR / "reporting.sqlite3"
        self.url = f"sqlite:///{self.path}"

    def create(self) -> None:
        VAR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def exists(self) -> bool:
        return self.path.exists()

    def drop(self, keep: bool) -> None:
        if not keep:
            for suffix in ("", "-wal", "-shm", "-journal", "-writer.lock"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def raw_connect(self):
        con = sqlite3.connect(self.path, isolation_level=None)
        # The same pragmas the application's engine sets (pmo.db._sqlite_pragmas).
        con.execute("PRAGMA busy_timeout = 30000")
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        return con

    def size_mb(self) -> float:
        con = self.raw_connect()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        total = sum(Path(f"{self.path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{self.path}{s}").exists())
        return round(total / 1e6, 1)

    def counts(self) -> dict:
        con = self.raw_connect()
        out = {name: con.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
        con.close()
        return out

    def after_load(self) -> None:
        pass

    # raw baseline
    def raw_begin(self, con):
        con.execute("BEGIN IMMEDIATE")

    def raw_commit(self, con):
        if con.in_transaction:
            con.execute("COMMIT")

    def raw_executemany(self, con, sql, rows):
        con.executemany(sql.replace("%s", "?"), rows)

    ddl = (
        "CREATE TABLE bench_cells (body_id INTEGER NOT NULL, operation_id INTEGER NOT NULL, step_id INTEGER NOT NULL, "
        "period INTEGER NOT NULL, revision_id INTEGER NOT NULL, status SMALLINT NOT NULL, planned_start INTEGER, "
        "planned_end INTEGER, actual_end INTEGER, note VARCHAR(1000), "
        "PRIMARY KEY (body_id, operation_id, step_id)) WITHOUT ROWID"
    )


class PostgresTarget:
    name = "postgresql"

    def __init__(self, args):
        from sqlalchemy import make_url

        self.maintenance = make_url(args.pg_url)
        # a stable name only when the database is meant to outlive the run (--keep / --reuse)
        self.dbname = "pmo_bench_reporting" if (args.keep or args.reuse) else f"pmo_bench_{os.getpid()}"
        self.url = self.maintenance.set(drivername="postgresql+psycopg", database=self.dbname).render_as_string(
            hide_password=False
        )

    def _conninfo(self, dbname: str) -> str:
        u = self.maintenance
        parts = [
            f"host={u.host or '127.0.0.1'}",
            f"port={u.port or 5432}",
            f"user={u.username or 'postgres'}",
            f"dbname={dbname}",
        ]
        if u.password:
            parts.append(f"password={u.password}")
        return " ".join(parts)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._conninfo(self.maintenance.database or "postgres"), autocommit=True) as con:
            con.execute(sql)

    def exists(self) -> bool:
        import psycopg

        ensure_postgres_up()
        with psycopg.connect(self._conninfo(self.maintenance.database or "postgres"), autocommit=True) as con:
            return con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone() is not None

    def create(self) -> None:
        ensure_postgres_up()
        self._admin(f'DROP DATABASE IF EXISTS "{self.dbname}"')
        self._admin(f'CREATE DATABASE "{self.dbname}"')

    def drop(self, keep: bool) -> None:
        if not keep:
            self._admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def raw_connect(self):
        import psycopg

        return psycopg.connect(self._conninfo(self.dbname))

    def size_mb(self) -> float:
        with self.raw_connect() as con:
            return round(con.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6, 1)

    def counts(self) -> dict:
        with self.raw_connect() as con:
            return {name: con.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}

    def after_load(self) -> None:
        # What autovacuum does on its own shortly after a bulk load (2.4 M inserted rows); done here so that
        # it does not compete with the measurements on 2 cores, and the plans have statistics.
        import psycopg

        with psycopg.connect(self._conninfo(self.dbname), autocommit=True) as con:
            con.execute("VACUUM (ANALYZE)")

    def raw_begin(self, con):
        pass  # psycopg opens a transaction implicitly

    def raw_commit(self, con):
        con.commit()

    def raw_executemany(self, con, sql, rows):
        with con.cursor() as cur:
            cur.executemany(sql, rows)

    ddl = (
        "CREATE TABLE bench_cells (body_id INTEGER NOT NULL, operation_id INTEGER NOT NULL, step_id INTEGER NOT NULL, "
        "period INTEGER NOT NULL, revision_id INTEGER NOT NULL, status SMALLINT NOT NULL, planned_start INTEGER, "
        "planned_end INTEGER, actual_end INTEGER, note VARCHAR(1000), "
        "PRIMARY KEY (body_id, operation_id, step_id))"
    )


def ensure_postgres_up() -> None:
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
        return
    log("PostgreSQL is down; starting it")
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    for _ in range(30):
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit("PostgreSQL did not come up")


# ------------------------------------------------------------------------------ the bench bodies


class Bodies:
    """Municipality bodies with a token each, and the statuses the bench last sent for each cell."""

    def __init__(self, n: int):
        from sqlalchemy import select

        from pmo.accounts.service import create_account, get_account, issue_token
        from pmo.db import session_scope
        from pmo.errors import NotFound
        from pmo.models import Body

        with session_scope() as session:
            codes = list(session.scalars(select(Body.code).where(Body.kind != "prefecture").order_by(Body.code)))
            step = len(codes) / n
            chosen = [codes[int(i * step)] for i in range(n)]  # spread over the country and every kind
            kinds = dict(session.execute(select(Body.code, Body.kind).where(Body.code.in_(chosen))).all())
            self.tokens: dict[str, str] = {}
            for code in chosen:
                try:
                    account = get_account(session, f"bench-{code}")
                except NotFound:
                    account = create_account(session, f"bench-{code}", "municipality", code, actor="bench")
                self.tokens[code] = issue_token(session, account, actor="bench", ttl_days=2).token
        self.codes = chosen
        self.kinds = kinds
        self.cells: dict[str, list[tuple[str, str]]] = {}
        self.status: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def headers(self, code: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[code]}", "Content-Type": "application/json"}

    def load_state(self, client, period: str) -> None:
        for code in self.codes:
            r = client.get(f"/api/v1/bodies/{code}/reports/{period}", headers=self.headers(code))
            r.raise_for_status()
            cells = r.json()["cells"]
            self.cells[code] = [(c["operation"], c["step"]) for c in cells]
            self.status[code] = [STATUSES.index(c["status"]) for c in cells]

    def next_payload(self, code: str) -> tuple[bytes, list[int]]:
        """A full grid in which every cell's status differs from the one last stored (rotate by one)."""
        new = [(s + 1) % 4 for s in self.status[code]]
        cells = [
            {"operation": op, "step": st, "status": STATUSES[s]}
            for (op, st), s in zip(self.cells[code], new, strict=False)
        ]
        return json.dumps({"cells": cells}).encode(), new

    def stored(self, code: str, statuses: list[int]) -> None:
        self.status[code] = statuses


# -------------------------------------------------------------------------------- measurements


def quiet_logs(path: Path) -> None:
    """The app's log lines (it logs every request) go to a file instead of the console: still written, so
    their cost stays in the figures, but the console keeps the bench's own progress. The HTTP client's own
    per-request log lines are dropped (they are not the application's)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stream = Path(path).open("a")  # noqa: SIM115 — the log handlers write to it until the process ends
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.stdout):
            handler.setStream(stream)


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure_submissions(
    client, bodies: Bodies, codes: list[str], rounds: int, period: str, errors: list
) -> list[float]:
    samples = []
    for _ in range(rounds):
        for code in codes:
            payload, new = bodies.next_payload(code)
            dt, r = timed(
                lambda code=code, payload=payload: client.put(
                    f"/api/v1/bodies/{code}/reports/{period}", content=payload, headers=bodies.headers(code)
                )
            )
            if r.status_code != 200 or r.json()["changed"] != len(new):
                errors.append({"what": "submit", "body": code, "status": r.status_code, "text": r.text[:300]})
                continue
            bodies.stored(code, new)
            samples.append(dt)
    return samples


# Stored cell versions are the changed cells of every revision (packed, one row per revision in revision_cells).
COUNTS = {
    "cell_versions": "SELECT coalesce(sum(n_changed), 0) FROM report_revisions",
    "report_revisions": "SELECT count(*) FROM report_revisions",
    "revision_cells": "SELECT count(*) FROM revision_cells",
    "body_cells": "SELECT count(*) FROM body_cells",
}
COLUMNS = "body_id, operation_id, step_id, period, revision_id, status, planned_start, planned_end, actual_end, note"
ON_CONFLICT = "ON CONFLICT (body_id, operation_id, step_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[3:]
)
UPSERT = f"INSERT INTO bench_cells ({COLUMNS}) VALUES ({', '.join(['%s'] * 10)}) {ON_CONFLICT}"
INSERT_VERSIONS = f"INSERT INTO bench_versions ({COLUMNS}) VALUES ({', '.join(['%s'] * 10)})"
UNNEST_UPSERT = (
    f"INSERT INTO bench_cells ({COLUMNS}) SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], "
    f"%s::int[], %s::int[], %s::smallint[], %s::int[], %s::int[], %s::int[], %s::varchar[]) {ON_CONFLICT}"
)


def current_rows(con, body_id: int) -> list[tuple]:
    """The body's current cells as one row each (the shape of the baseline's scratch table), from body_cells."""
    from pmo.reports.cellgrid import CellGrid
    from pmo.reports.grid import key_at

    revision_id, blob = con.execute(f"SELECT revision_id, cells FROM body_cells WHERE body_id = {body_id}").fetchone()
    grid = CellGrid.unpack(bytes(blob), b"")
    return [
        (body_id, *key_at(p), grid.updated[p] or 202206, revision_id, *grid.value(p))
        for p in range(len(grid.statuses))
        if grid.statuses[p]
    ]


class RawBaseline:
    """Raw-driver floors with one body's 800 cell rows, each step its own committed transaction on a plain
    DBAPI connection (sqlite3 / psycopg):
    upsert_800 — executemany INSERT … ON CONFLICT DO UPDATE into a scratch copy of cells (the baseline);
    writer_shape_800 — the SQL work a full-grid submission does: executemany INSERT of 800 versions into a
        scratch copy of cell_versions + the same upsert;
    bulk_800 (PostgreSQL) — that same work as COPY of the versions + one unnest() array upsert."""

    def __init__(self, target, code: str):
        self.target = target
        self.con = con = target.raw_connect()
        self.base_rows = current_rows(con, int(code))
        target.raw_commit(con)
        assert len(self.base_rows) == 800, f"expected 800 cell rows for {code}, got {len(self.base_rows)}"
        for table in ("bench_cells", "bench_versions"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(target.ddl)
        con.execute(
            target.ddl.replace("bench_cells", "bench_versions").replace(
                "PRIMARY KEY (body_id, operation_id, step_id)",
                "PRIMARY KEY (body_id, operation_id, step_id, period, revision_id)",
            )
        )
        target.raw_commit(con)
        self.plans = {"upsert_800": self._upsert, "writer_shape_800": self._writer_shape}
        if target.name == "postgresql":
            self.plans["bulk_800"] = self._bulk
        self.revision = 10**9  # scratch revision ids: unique, so version rows never collide
        for _ in range(3):  # warm-up; the first step of each plan inserts, later ones update
            for name in self.plans:
                self.step(name)

    def _upsert(self, rows):
        self.target.raw_executemany(self.con, UPSERT, rows)

    def _writer_shape(self, rows):
        self.target.raw_executemany(self.con, INSERT_VERSIONS, rows)
        self.target.raw_executemany(self.con, UPSERT, rows)

    def _bulk(self, rows):
        with self.con.cursor() as cur:
            with cur.copy(f"COPY bench_versions ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(UNNEST_UPSERT, [list(col) for col in zip(*rows, strict=False)])

    def step(self, name: str) -> float:
        self.revision += 1
        i = self.revision
        rows = [(*r[:4], i, (r[5] + i) % 4 + 1, *r[6:]) for r in self.base_rows]  # every status changes
        t0 = time.perf_counter()
        self.target.raw_begin(self.con)
        self.plans[name](rows)
        self.target.raw_commit(self.con)
        return time.perf_counter() - t0

    def close(self) -> None:
        for table in ("bench_cells", "bench_versions"):
            self.con.execute(f"DROP TABLE {table}")
        self.target.raw_commit(self.con)
        self.con.close()


def measure_gets(client, bodies: Bodies, codes: list[str], period: str, errors: list, rounds: int = 1) -> list[float]:
    samples = []
    for _ in range(rounds):
        for code in codes:
            dt, r = timed(
                lambda code=code: client.get(f"/api/v1/bodies/{code}/reports/{period}", headers=bodies.headers(code))
            )
            if r.status_code != 200 or len(r.json()["cells"]) != 800:
                errors.append({"what": f"grid {period}", "body": code, "status": r.status_code, "text": r.text[:300]})
                continue
            samples.append(dt)
    return samples


def measure_nochange(client, bodies: Bodies, codes: list[str], period: str, errors: list) -> list[float]:
    samples = []
    for code in codes:
        dt, r = timed(
            lambda code=code: client.put(
                f"/api/v1/bodies/{code}/reports/{period}", content=b'{"cells": []}', headers=bodies.headers(code)
            )
        )
        if r.status_code != 200 or r.json()["changed"] != 0:
            errors.append({"what": "no change", "body": code, "status": r.status_code, "text": r.text[:300]})
            continue
        samples.append(dt)
    return samples


def service_submit(bodies: Bodies, code: str, period: str) -> float:
    """The same full-grid submission straight into pmo.reports.service.submit_report inside session_scope
    (no ASGI, no request JSON parsing, no response serialisation): separates the framework's share."""
    from pmo.auth import principal_for_token
    from pmo.db import session_scope
    from pmo.directory import service as directory
    from pmo.reports import service
    from pmo.reports.schemas import ReportIn

    payload, new = bodies.next_payload(code)
    report = ReportIn.model_validate_json(payload)
    t0 = time.perf_counter()
    with session_scope() as session:
        principal = principal_for_token(session, bodies.tokens[code])
        body = directory.get_body(session, code)
        out = service.submit_report(session, principal, body, period, report)
    elapsed = time.perf_counter() - t0
    assert out.changed == len(new), out
    bodies.stored(code, new)
    return elapsed


def profile(fn, out_path: Path, py_spy: str | None) -> None:
    """Profile one measurement into out_path. With py-spy: samples of every thread of this process (the
    app runs sync routes in worker threads, which cProfile would miss), summarised by function; without
    it, cProfile of this thread only."""
    if py_spy:
        folded = out_path.with_suffix(".folded")
        spy = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(folded),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.5)  # let it attach
        repeat(fn)
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        out_path.write_text(summarize_folded(folded))
        return
    prof = cProfile.Profile()
    prof.enable()
    repeat(fn)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    out_path.write_text(buf.getvalue())


def repeat(fn, seconds: float = 4.0) -> None:
    """Run fn until enough samples have been taken."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        fn()


IDLE_LEAVES = ("EpollSelector.select", "Condition.wait", "Event.wait", "Thread.join", "Lock.acquire")


def summarize_folded(path: Path, top: int = 40) -> str:
    """py-spy's collapsed stacks → share per function of the application's samples: stacks of the bench's
    own client code (bench/run.py: building payloads, parsing answers) and threads waiting idle are left out."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = app = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";")]
        if any(f.endswith("run.py)") for f in frames) or frames[-1].startswith(IDLE_LEAVES):
            continue
        app += n
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    app = app or 1
    out = [
        f"{path.name}: {total} samples at 250 Hz, {app} of them in the application "
        "(bench client code and idle waits left out); % of the application's samples",
        "",
        "inclusive %  functions of pmo",
    ]
    for f, n in sorted(((f, n) for f, n in inclusive.items() if "pmo/" in f), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / app:10.1f}  {f}")
    out += ["", "inclusive %  any function"]
    for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / app:10.1f}  {f}")
    out += ["", "own %  function"]
    for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * n / app:6.1f}  {f}")
    return "\n".join(out) + "\n"


def _frame_name(frame: str) -> str:
    # "submit_report (pmo/reports/service.py:178)" -> "submit_report (pmo/reports/service.py)"
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{name} ({file})"


# ----------------------------------------------------------------------------------------- HTTP


def http_phase(
    target,
    bodies: Bodies,
    codes: list[str],
    workers: int,
    period: str,
    *,
    requests: int,
    threads: int,
    time_limit: float,
    log_path: Path,
) -> dict:
    import httpx

    port = free_port()
    env = {**os.environ, "PMO_DATABASE_URL": target.url, **CHILD_ENV}
    logf = Path(log_path).open("w")  # noqa: SIM115 — the server writes to it; closed after it stops
    server = subprocess.Popen(
        [*PMO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=CODE_ROOT,
        env=env,
        stdout=logf,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"pmo serve exited with {server.returncode}; see {log_path}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"pmo serve did not answer within 60 s; see {log_path}")
            time.sleep(0.2)
        # Each client thread owns a disjoint set of bodies: concurrent requests never target one body.
        shares = [codes[i::threads] for i in range(threads)]
        latencies: list[float] = []
        errors: list[dict] = []
        statuses: dict[int, int] = {}
        tickets = {"left": requests}
        lock = threading.Lock()
        stop_at = [0.0]

        def take() -> bool:
            with lock:
                if tickets["left"] <= 0 or time.monotonic() > stop_at[0]:
                    return False
                tickets["left"] -= 1
                return True

        def client_loop(share: list[str], warmup: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                i = 0
                while (warmup > 0) or take():
                    code = share[i % len(share)]
                    i += 1
                    payload, new = bodies.next_payload(code)
                    t0 = time.perf_counter()
                    try:
                        r = client.put(
                            f"/api/v1/bodies/{code}/reports/{period}", content=payload, headers=bodies.headers(code)
                        )
                        status = r.status_code
                    except httpx.HTTPError as exc:
                        r, status = None, -1
                        err = repr(exc)
                    dt = time.perf_counter() - t0
                    if 200 <= status < 300:
                        bodies.stored(code, new)
                    if warmup > 0:
                        warmup -= 1
                        continue
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                        if 200 <= status < 300:
                            latencies.append(dt)
                        else:
                            errors.append(
                                {"body": code, "status": status, "text": (r.text[:300] if r is not None else err)}
                            )

        # warm-up: two requests per thread (connections, each worker's caches), not counted
        tickets["left"] = 0
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda s: client_loop(s, 2), shares))
        tickets["left"] = requests
        stop_at[0] = time.monotonic() + time_limit
        load_before = loadavg()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda s: client_loop(s, 0), shares))
        wall = time.perf_counter() - t0
        done = len(latencies)
        result = {
            "workers": workers,
            "client_threads": threads,
            "requests_planned": requests,
            "completed_2xx": done,
            "non_2xx": len(errors),
            "status_counts": {str(k): v for k, v in sorted(statuses.items())},
            "wall_s": round(wall, 2),
            "requests_per_s": round(done / wall, 1) if wall else None,
            "time_limited": done + len(errors) < requests,
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
            "errors_sample": errors[:5],
        }
        if latencies:
            result.update(summary_ms(latencies))
        return result
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)  # our own child's process group (uvicorn and its workers)
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        except ProcessLookupError:
            pass
        logf.close()


# ----------------------------------------------------------------------------------------- driver


def bench_database(target, args) -> dict:
    q = args.quick
    n_sub_bodies, sub_rounds = (10, 2) if q else (30, 2)
    n_read = 20 if q else 50
    http_requests = 100 if q else 300
    result: dict = {
        "database": target.name,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": loadavg(),
            "cpu_probe_ms_start": cpu_probe(),
            "note": "2-core machine shared with other work; figures include that noise",
        },
        "quick": q,
        "path": (
            "InProcessClient(create_app()): the ASGI app called on an event loop in this thread"
            " — the whole ASGI request path"
        ),
    }
    env = {**os.environ, "PMO_DATABASE_URL": target.url}
    reuse = args.reuse and target.exists()
    if not reuse:
        log(f"{target.name}: creating a fresh database")
        target.create()
    try:
        if reuse:
            log(f"{target.name}: reusing the kept database (demo not timed; it holds earlier bench submissions)")
            result["demo"] = {"seconds": None, "output": "reused", "size_mb": target.size_mb(), "rows": target.counts()}
        else:
            run_cli(["db", "upgrade"], env)
            run_cli(["seed"], env)
            log(f"{target.name}: pmo demo (full national history) …")
            phase(result, "demo")
            load_before = loadavg()
            demo_s, demo_out = run_cli(["demo"], env)
            log(f"{target.name}: {demo_out}")
            result["demo"] = {
                "seconds": round(demo_s, 1),
                "output": demo_out,
                "size_mb": target.size_mb(),
                "rows": target.counts(),
                "loadavg_before": load_before,
                "loadavg_after": loadavg(),
            }
            t0 = time.perf_counter()
            target.after_load()
            result["demo"]["after_load_s"] = round(time.perf_counter() - t0, 1)

        os.environ["PMO_DATABASE_URL"] = target.url
        from pmo import periods
        from pmo.app import create_app
        from pmo.db import reset_engines

        reset_engines()
        period = periods.fmt(periods.current())
        last_month = periods.fmt(periods.add_months(periods.current(), -1))  # the demo's latest period
        result["period"] = period
        n_http_bodies = 48
        bodies = Bodies(n_sub_bodies + 3 + n_http_bodies)
        sub_codes = bodies.codes[:n_sub_bodies]
        warm_codes = bodies.codes[n_sub_bodies : n_sub_bodies + 3]
        http_codes = bodies.codes[n_sub_bodies + 3 :]
        errors: list = []
        app = create_app()
        quiet_logs(RESULTS / f"app-{target.name}.log")
        client = InProcessClient(app)
        try:
            # every body's current grid (untimed): what the bench will rotate from, and a warm-up
            bodies.load_state(client, period)
            log(f"{target.name}: reading grids (demo state), latest period and {OLD_PERIOD} interleaved …")
            phase(result, "grid_reads")
            read_codes = http_codes
            grid_latest: list[float] = []
            grid_old: list[float] = []
            for i in range(n_read):
                code = read_codes[i % len(read_codes)]
                grid_latest += measure_gets(client, bodies, [code], last_month, errors)
                grid_old += measure_gets(client, bodies, [code], OLD_PERIOD, errors)

            log(f"{target.name}: full-grid submissions (in process, service only, raw driver interleaved) …")
            phase(result, "submissions")
            measure_submissions(client, bodies, warm_codes, 1, period, errors)  # warm-up
            raw = RawBaseline(target, warm_codes[0])
            submit: list[float] = []
            service: list[float] = []
            raws: dict[str, list[float]] = {name: [] for name in raw.plans}
            for _ in range(sub_rounds):
                for code in sub_codes:
                    submit += measure_submissions(client, bodies, [code], 1, period, errors)
                    service.append(service_submit(bodies, code, period))
                    for name in raw.plans:
                        raws[name].append(raw.step(name))
            raw.close()
            log(f"{target.name}: no-change reports …")
            phase(result, "no_change")
            nochange = measure_nochange(client, bodies, (sub_codes * 5)[:n_read], period, errors)
            grid_after = measure_gets(client, bodies, sub_codes, period, errors, rounds=2)
            if args.profile:  # after the measurements, so that they are not perturbed
                runs = {
                    "submit": lambda: measure_submissions(client, bodies, sub_codes, 3, period, errors),
                    "nochange": lambda: measure_nochange(client, bodies, sub_codes, period, errors),
                    "grid": lambda: measure_gets(client, bodies, read_codes, last_month, errors, rounds=2),
                    "grid-old": lambda: measure_gets(client, bodies, read_codes, OLD_PERIOD, errors, rounds=2),
                }
                result["profiles"] = {}
                for what, fn in runs.items():
                    prof_path = RESULTS / f"profile-{target.name}-{what}.txt"
                    profile(fn, prof_path, args.py_spy)
                    result["profiles"][what] = str(prof_path.relative_to(ROOT))
        finally:
            client.close()
        reset_engines()

        result["in_process"] = {
            "submit_full_grid": summary_ms(submit),
            "submit_service_only": summary_ms(service),
            "raw_upsert_800": summary_ms(raws["upsert_800"]),
            "submit_raw_ratio": round(statistics.median(submit) / statistics.median(raws["upsert_800"]), 2),
            "raw_writer_shape_800": summary_ms(raws["writer_shape_800"]),
            **({"raw_bulk_800": summary_ms(raws["bulk_800"])} if "bulk_800" in raws else {}),
            "no_change": summary_ms(nochange),
            "grid_latest_demo_state": summary_ms(grid_latest),
            "grid_latest_after_submissions": summary_ms(grid_after),
            f"grid_{OLD_PERIOD}": summary_ms(grid_old),
            "errors": errors,
            "submit_bodies": {c: bodies.kinds.get(c) for c in sub_codes},
        }
        result["http"] = {}
        for workers in (1, 2):
            log(f"{target.name}: HTTP, pmo serve --workers {workers} …")
            phase(result, f"http_workers_{workers}")
            result["http"][f"workers_{workers}"] = http_phase(
                target,
                bodies,
                http_codes,
                workers,
                period,
                requests=http_requests,
                threads=args.threads,
                time_limit=args.http_time_limit,
                log_path=RESULTS / f"serve-{target.name}-w{workers}.log",
            )
        result["loadavg_end"] = loadavg()
        phase(result, "end")
        result["targets"] = check_targets(target.name, result)
        return result
    finally:
        from pmo.db import reset_engines

        reset_engines()
        target.drop(args.keep)


def check_targets(db: str, r: dict) -> dict:
    ip = r["in_process"]
    figures = {
        "submit_p50_ms": ip["submit_full_grid"]["p50_ms"],
        "submit_raw_ratio": ip["submit_raw_ratio"],
        "nochange_p50_ms": ip["no_change"]["p50_ms"],
        "grid_latest_p50_ms": ip["grid_latest_demo_state"]["p50_ms"],
        "demo_seconds": r["demo"]["seconds"],
    }
    out = {}
    for name, limits in TARGETS.items():
        if db in limits and figures[name] is not None:
            out[name] = {"value": figures[name], "target": limits[db], "met": figures[name] <= limits[db]}
    return out


def print_table(results: list[dict]) -> None:
    def row(label, fn, unit=""):
        cells = []
        for r in results:
            try:
                cells.append(f"{fn(r)}{unit}")
            except (KeyError, TypeError):
                cells.append("-")
        print(f"  {label:<44}" + "".join(f"{c:>22}" for c in cells))

    def mark(r, name):
        t = r["targets"].get(name)
        return "" if t is None else (" ok" if t["met"] else " MISS")

    print()
    print(f"  {'':<44}" + "".join(f"{r['database']:>22}" for r in results))
    row("pmo demo, s (target SQLite ≤ 180)", lambda r: f"{r['demo']['seconds']}{mark(r, 'demo_seconds')}")
    row("database size after demo, MB", lambda r: r["demo"]["size_mb"])
    row("cell versions stored (changed cells)", lambda r: f"{r['demo']['rows']['cell_versions']:,}")
    row(
        "revision_cells / body_cells rows",
        lambda r: f"{r['demo']['rows'].get('revision_cells', 0):,} / {r['demo']['rows'].get('body_cells', 0):,}",
    )
    row("report_revisions rows", lambda r: f"{r['demo']['rows']['report_revisions']:,}")
    ip = lambda r: r["in_process"]  # noqa: E731
    row(
        "full-grid submit p50 / p95, ms",
        lambda r: (
            f"{ip(r)['submit_full_grid']['p50_ms']} / {ip(r)['submit_full_grid']['p95_ms']}{mark(r, 'submit_p50_ms')}"
        ),
    )
    row("  same, service only p50, ms", lambda r: ip(r)["submit_service_only"]["p50_ms"])
    row("raw-driver upsert 800 rows p50, ms", lambda r: ip(r)["raw_upsert_800"]["p50_ms"])
    row("  raw versions insert + upsert p50, ms", lambda r: ip(r)["raw_writer_shape_800"]["p50_ms"])
    row("  same as COPY + unnest() upsert p50, ms", lambda r: ip(r)["raw_bulk_800"]["p50_ms"])
    row("submit / raw (goal ≤ 2×)", lambda r: f"{ip(r)['submit_raw_ratio']}×{mark(r, 'submit_raw_ratio')}")
    row("no-change report p50, ms (≤ 10)", lambda r: f"{ip(r)['no_change']['p50_ms']}{mark(r, 'nochange_p50_ms')}")
    row(
        "grid read, latest p50, ms (≤ 20)",
        lambda r: f"{ip(r)['grid_latest_demo_state']['p50_ms']}{mark(r, 'grid_latest_p50_ms')}",
    )
    row(f"grid read, {OLD_PERIOD} p50, ms", lambda r: ip(r)[f"grid_{OLD_PERIOD}"]["p50_ms"])
    for w in (1, 2):
        h = lambda r, w=w: r["http"][f"workers_{w}"]  # noqa: E731
        row(f"HTTP {w} worker: req/s", lambda r, h=h: h(r)["requests_per_s"])
        row(
            f"HTTP {w} worker: p50 / p95 / p99, ms",
            lambda r, h=h: f"{h(r)['p50_ms']:.0f} / {h(r)['p95_ms']:.0f} / {h(r)['p99_ms']:.0f}",
        )
        row(f"HTTP {w} worker: ok / non-2xx", lambda r, h=h: f"{h(r)['completed_2xx']} / {h(r)['non_2xx']}")
    row("in-process errors", lambda r: len(ip(r)["errors"]))
    row("load average start → end", lambda r: f"{r['machine']['loadavg_start'][0]} → {r['loadavg_end'][0]}")
    row(
        "CPU probe ms demo/submit/HTTP (lower=quieter)",
        lambda r: " / ".join(
            f"{r['phases'][k]['cpu_probe_ms']:.0f}"
            for k in ("demo", "submissions", "http_workers_1")
            if k in r["phases"]
        ),
    )
    print()


def use_commit(rev: str) -> None:
    """Measure a committed revision instead of the working tree: export it (git archive) under var/bench/ and
    import pmo from there, in this process and in every pmo subprocess."""
    global CODE_ROOT, PMO
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dest = VAR / f"src-{sha[:12]}"
    for old in VAR.glob("src-*"):
        if old != dest:
            shutil.rmtree(old, ignore_errors=True)
    if not (dest / "src" / "pmo").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    CODE_ROOT = dest
    PMO = [sys.executable, "-m", "pmo.cli"]
    CHILD_ENV["PYTHONPATH"] = str(dest / "src")
    CHILD_ENV["PMO_BENCH_CODE"] = sha
    sys.path.insert(0, str(dest / "src"))


def code_version() -> dict:
    import pmo

    where = Path(pmo.__file__).resolve().parent
    info = {"pmo_imported_from": str(where)}
    if CHILD_ENV.get("PMO_BENCH_CODE"):
        info["commit"] = CHILD_ENV["PMO_BENCH_CODE"]
        info["working_tree_changes"] = False
    else:
        git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
        info["commit"] = git("rev-parse", "HEAD")
        info["working_tree_changes"] = bool(git("status", "--porcelain", "--", "src", "migrations", "seeds"))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations and HTTP requests (the demo is always full)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile submit, no-change and grid reads into bench/results/profile-<db>-<what>.txt",
    )
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy"),
        help="py-spy executable for --profile (default: on PATH; else cProfile of the main thread)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="development aid: reuse a database kept by --keep instead of loading the demo again "
        "(figures then include earlier bench submissions and no demo time)",
    )
    parser.add_argument(
        "--commit",
        help="measure this committed revision (exported with git archive) instead of the "
        "working tree, e.g. HEAD while src/ is being edited",
    )
    parser.add_argument("--threads", type=int, default=6, help="concurrent HTTP clients (default 6)")
    parser.add_argument("--http-time-limit", type=float, default=120.0, help="seconds per HTTP phase at most")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PMO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL maintenance database; a throwaway database is created next to it",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*deprecated")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.commit:
        use_commit(args.commit)
    code = code_version()
    log(
        f"measuring pmo from {code['pmo_imported_from']} (commit {code['commit'][:12]}"
        f"{', with uncommitted changes in src/migrations' if code['working_tree_changes'] else ''})"
    )
    targets = {"sqlite": [SqliteTarget], "postgresql": [PostgresTarget], "both": [SqliteTarget, PostgresTarget]}[
        args.db
    ]
    results = []
    for cls in targets:
        target = cls(args)
        r = bench_database(target, args)
        r["code"] = code
        path = RESULTS / f"reporting-{target.name}.json"
        path.write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {path.relative_to(ROOT)}")
        results.append(r)
    print_table(results)


if __name__ == "__main__":
    main()
