"""Dashboard benchmark (issue 7): server time of the pages with the full demo history loaded.

    .venv/bin/python bench/dashboard.py [--db sqlite:////work/main/var/dash.sqlite3] [--repeat 30]

Builds the database once when it is empty (db upgrade, seed, demo: about 1–2 minutes), then times
requests in process (the ASGI app called directly: server time, no network):

- cold: the first national page after start (loads every period's matrix since 2022-06);
- warm: the same national page again (figures cached until a report changes them) — the target
  is p50 ≤ 300 ms;
- filters: a different period × kind × prefecture each time (figures computed, matrices cached);
- the prefecture, body and inquiry pages (row-level reads, not cached)."""

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = f"sqlite:///{ROOT / 'var' / 'dash.sqlite3'}"
TARGET_P50_MS = 300.0


def prepare(url: str) -> None:
    env = {**os.environ, "PMO_DATABASE_URL": url}
    pmo = str(ROOT / ".venv" / "bin" / "pmo")
    for args in (["db", "upgrade"], ["seed"], ["demo", "--if-empty"]):
        out = subprocess.run([pmo, *args], env=env, check=True, capture_output=True, text=True).stdout.strip()
        print(f"pmo {' '.join(args)}: {out.splitlines()[-1] if out else ''}", flush=True)


def timed(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return elapsed


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    median = statistics.median(samples)
    return f"{name:<34} n={len(samples):>3}  p50 {median:7.1f} ms  p95 {p95:7.1f} ms  max {max(samples):7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("PMO_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.environ["PMO_DATABASE_URL"] = args.db
    prepare(args.db)

    from fastapi.testclient import TestClient

    from pmo import periods
    from pmo.accounts import service as accounts
    from pmo.app import create_app
    from pmo.db import session_scope

    with session_scope() as session:
        tokens = {}
        for role, body in (("viewer", None), ("prefecture", "130001"), ("municipality", "131016")):
            account = accounts.create_account(
                session, f"bench-{role}-{secrets.token_hex(3)}", role, body, actor="bench"
            )
            tokens[role] = accounts.issue_token(session, account, actor="bench", ttl_days=1).token

    def signed_in(client: TestClient, token: str) -> TestClient:
        client.cookies.clear()
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert client.post("/login", data={"token": token, "csrf": csrf}, follow_redirects=False).status_code == 303
        return client

    lines = [
        f"database: {args.db}",
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
    ]
    with TestClient(create_app()) as client:
        signed_in(client, tokens["viewer"])
        cold = timed(client, "/")
        warm = [timed(client, "/") for _ in range(args.repeat)]
        last = periods.add_months(periods.current(), -1)
        combos = [
            (periods.fmt(periods.add_months(last, -m)), kind, pref)
            for m in range(3)
            for kind in ("", "city", "town", "village")
            for pref in ("", "13", "01", "16")
        ]
        filtered = [timed(client, f"/?period={p}&kind={k}&prefecture={f}") for p, k, f in combos]
        filtered_again = [timed(client, f"/?period={p}&kind={k}&prefecture={f}") for p, k, f in combos]
        signed_in(client, tokens["prefecture"])
        prefecture = [timed(client, "/prefectures/130001") for _ in range(max(5, args.repeat // 3))]
        inquiries = [timed(client, "/inquiries") for _ in range(max(5, args.repeat // 3))]
        signed_in(client, tokens["municipality"])
        body = [timed(client, "/bodies/131016") for _ in range(max(5, args.repeat // 3))]
    lines += [
        f"{'national, cold (first request)':<34} {cold:7.1f} ms",
        summary("national, warm (same filters)", warm),
        summary("national, new filters each time", filtered),
        summary("national, those filters again", filtered_again),
        summary("prefecture 130001 (62 bodies)", prefecture),
        summary("body 131016 (grid, charts, forms)", body),
        summary("inquiry queue", inquiries),
    ]
    print("\n".join(lines))
    ok = statistics.median(warm) <= TARGET_P50_MS
    print(f"target: national p50 ≤ {TARGET_P50_MS:.0f} ms — {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
