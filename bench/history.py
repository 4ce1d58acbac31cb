"""What each operation costs as the history grows (issue 18): 12, 54 and 120 months of reports, same code.

    .venv/bin/python bench/history.py [--db sqlite|postgresql|both] [--months 12,120] [--repeat 15]

Builds one demo database per history length (`pmo demo --months N`, kept under var/bench/ or as PostgreSQL
databases pmo_bench_hist_<N>) with the clock moved forward (PMO_CLOCK_OFFSET_DAYS) so that 120 months of
reports fit since 2022-06; every history ends at the same month, so only its length differs. Each database
is measured in a fresh process, in process through the whole ASGI stack (bench/inprocess.py), after the
statistics warm-up. "After a change" means right after a body's report for the period being read (last
month, as a late or corrected report is) — the worst case: that period and everything built on it go stale.
Results: bench/results/history-<db>.json and a table with each figure's ratio to the 12-month one."""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PMO = str(ROOT / ".venv" / "bin" / "pmo")
RESULTS = ROOT / "bench" / "results"
CLOCK_OFFSET_DAYS = 2009  # 2026-12-03 + 2009 days = 2032-06: 120 months since 2022-06 are in the past
STATUSES = ("done", "in_progress", "not_started", "not_applicable")
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"


def database_url(db: str, months: int) -> str:
    if db == "postgresql":
        return PG.format(f"pmo_bench_hist_{months}")
    return f"sqlite:///{ROOT / 'var' / 'bench' / f'history-{months}.sqlite3'}"


def build(db: str, months: int, env: dict) -> None:
    """The demo database with `months` of history, unless it exists already."""
    if db == "postgresql":
        name = f"pmo_bench_hist_{months}"
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc"]
        exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname='{name}'"], capture_output=True)
        if exists.stdout.strip() != b"1":
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    else:
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    for args in (["db", "upgrade"], ["seed"], ["demo", "--if-empty", "--months", str(months)]):
        out = subprocess.run([PMO, *args], env=env, check=True, capture_output=True, text=True).stdout
    print(f"  [{db} {months} months] {out.strip().splitlines()[-1]}", flush=True)


def p50(samples: list[float]) -> float:
    return round(statistics.median(samples), 2)


def measure(repeat: int) -> dict:
    """The figures for the database in PMO_DATABASE_URL (run in a process of its own)."""
    import logging

    sys.path.insert(0, str(ROOT / "bench"))
    from inprocess import InProcessClient
    from sqlalchemy import select

    from pmo import periods
    from pmo.accounts import service as accounts
    from pmo.app import create_app
    from pmo.db import session_scope
    from pmo.models import Body
    from pmo.stats.matrix import warm_up

    logging.getLogger("pmo.access").setLevel(logging.WARNING)
    with session_scope() as s:
        codes = list(s.scalars(select(Body.code).where(Body.kind == "city").order_by(Body.code)))[::40][:repeat]
        tokens = {}
        for code in codes:
            account = accounts.create_account(s, f"hist-{code}-{time.time_ns()}", "municipality", code, actor="bench")
            tokens[code] = accounts.issue_token(s, account, actor="bench", ttl_days=1).token
        viewer = accounts.create_account(s, f"hist-viewer-{time.time_ns()}", "viewer", None, actor="bench")
        viewer_token = accounts.issue_token(s, viewer, actor="bench", ttl_days=1).token
        pref = accounts.create_account(s, f"hist-pref-{time.time_ns()}", "prefecture", "130001", actor="bench")
        pref_token = accounts.issue_token(s, pref, actor="bench", ttl_days=1).token
    started = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - started
    client = InProcessClient(create_app())
    last = periods.fmt(periods.add_months(periods.current(), -1))
    year_ago = periods.fmt(periods.add_months(periods.current(), -12))
    viewer_h = {"Authorization": f"Bearer {viewer_token}"}
    pref_h = {"Authorization": f"Bearer {pref_token}"}

    def signed_in(token: str) -> dict:
        """The cookie of a page session signed in with token (the form a person uses)."""
        page = client.get("/login")
        cookie = page.headers["set-cookie"].split(";")[0]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        form = f"token={token}&csrf={csrf}".encode()
        form_h = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        done = client.request("POST", "/login", content=form, headers=form_h)
        assert done.status_code == 303, done.text[:300]
        return {"Cookie": done.headers["set-cookie"].split(";")[0]}

    def body_h(code: str) -> dict:
        return {"Authorization": f"Bearer {tokens[code]}", "Content-Type": "application/json"}

    def timed(method: str, url: str, headers: dict, content: bytes = b"") -> float:
        t = time.perf_counter()
        r = client.request(method, url, content=content, headers=headers)
        elapsed = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        return elapsed

    grids = {}
    for code in codes:
        cells = client.get(f"/api/v1/bodies/{code}/reports/{last}", headers=body_h(code)).json()["cells"]
        grids[code] = [(c["operation"], c["step"], STATUSES.index(c["status"])) for c in cells]

    def full_grid(code: str) -> bytes:
        grids[code] = [(op, st, (s + 1) % 4) for op, st, s in grids[code]]
        return json.dumps({"cells": [{"operation": o, "step": t, "status": STATUSES[s]} for o, t, s in grids[code]]})

    reads = {
        "progress": "/api/v1/stats/progress?by=operation",
        "trend_whole_history": "/api/v1/stats/trend?by=none",
        "trend_last_12_months_by_operation": f"/api/v1/stats/trend?by=operation&from={year_ago}",
        "reporting": "/api/v1/stats/reporting?by=prefecture",
    }
    pages = {
        "national_page": ("/", signed_in(viewer_token)),
        "prefecture_page": ("/prefectures/130001", signed_in(pref_token)),
        "prefecture_lagging": ("/api/v1/prefectures/130001/lagging", pref_h),
    }
    reads = {name: (url, viewer_h) for name, url in reads.items()}
    figures: dict[str, list[float]] = {name: [] for name in ("submit_full_grid", "no_change", "grid_read")}
    for name in [*reads, *pages]:
        figures[f"{name}_cached"], figures[f"{name}_after_change"] = [], []
    for code in codes:
        url = f"/api/v1/bodies/{code}/reports/{last}"
        figures["submit_full_grid"].append(timed("PUT", url, body_h(code), full_grid(code).encode()))
        for name, (read, headers) in {**reads, **pages}.items():
            figures[f"{name}_after_change"].append(timed("GET", read, headers))
            figures[f"{name}_cached"].append(timed("GET", read, headers))
            timed("PUT", url, body_h(code), b'{"cells": []}')  # the next read is after a change again
        figures["no_change"].append(timed("PUT", url, body_h(code), b'{"cells": []}'))
        figures["grid_read"].append(timed("GET", url, body_h(code)))
    client.close()
    import resource

    return {
        "p50_ms": {name: p50(samples) for name, samples in figures.items() if samples},
        "warm_up_s": round(warm_s, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--months", default="12,54,120")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.repeat)))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        results = {}
        for months in [int(m) for m in args.months.split(",")]:
            env = {**os.environ, "PMO_DATABASE_URL": database_url(db, months)}
            env.update(PMO_CLOCK_OFFSET_DAYS=str(CLOCK_OFFSET_DAYS), PMO_WARM_CACHE="false")
            build(db, months, env)
            child = [sys.executable, __file__, "--measure", "--repeat", str(args.repeat)]
            out = subprocess.run(child, env=env, check=True, capture_output=True, text=True).stdout
            results[months] = json.loads(out.strip().splitlines()[-1])
        (RESULTS / f"history-{db}.json").write_text(json.dumps(results, indent=2))
        report(db, results)


def report(db: str, results: dict) -> None:
    lengths = list(results)
    base = results[lengths[0]]["p50_ms"]
    print(f"== {db}: p50 ms by months of history (ratio to {lengths[0]} months)")
    print(f"{'':40s}" + "".join(f"{m:>18d}" for m in lengths))
    for name in base:
        row = "".join(
            f"{results[m]['p50_ms'][name]:9.2f} ({results[m]['p50_ms'][name] / base[name]:4.2f}×)" for m in lengths
        )
        print(f"{name:40s}{row}")
    for extra in ("warm_up_s", "max_rss_mb", "loadavg"):
        print(f"{extra:40s}" + "".join(f"{results[m][extra]:>18}" for m in lengths))


if __name__ == "__main__":
    main()
