"""Mixed-workload load test (issue 8): 90 % statistics and reads, 10 % report submissions, for a fixed
time against `pmo serve` with 1 and 2 workers on one database, from loopback clients only.

    .venv/bin/python bench/load.py [--db sqlite|postgresql] [--seconds 60] [--clients 8]

Uses the benchmark demo databases of bench/stats.py (built on first use). Zero errors expected."""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import RESULTS, prepare  # noqa: E402
from tests.serverproc import Server  # noqa: E402

READS = [
    "/api/v1/stats/progress?by=operation",
    "/api/v1/stats/progress?by=operation,step",
    "/api/v1/stats/progress?by=prefecture",
    "/api/v1/stats/trend?by=none",
    "/api/v1/stats/distribution",
    "/api/v1/stats/reporting?by=prefecture",
]


def make_tokens(url: str, codes: list[str]) -> dict[str, str]:
    from sqlalchemy.orm import Session

    from pmo.accounts import service as accounts
    from pmo.db import build_engine

    engine = build_engine(url)
    out = {}
    with Session(engine) as s:
        for code in [*codes, "viewer"]:
            name = f"load-{code}"
            try:
                account = accounts.get_account(s, name)
            except Exception:
                account = accounts.create_account(
                    s,
                    name,
                    "viewer" if code == "viewer" else "municipality",
                    None if code == "viewer" else code,
                    actor="bench",
                )
            out[code] = accounts.issue_token(s, account, actor="bench", ttl_days=1).token
        s.commit()
    engine.dispose()
    return out


async def client_loop(base: str, tokens: dict, codes: list[str], until: float, latencies: list, errors: list, rng):
    from pmo import periods

    period = periods.fmt(periods.current())  # the app's month (Japan time), not this machine's
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.time() < until:
            started = time.perf_counter()
            try:
                if rng.random() < 0.1:
                    code = rng.choice(codes)
                    cells = [
                        {
                            "operation": "koseki",
                            "step": f"S{rng.randint(1, 40):02d}",
                            "status": rng.choice(["done", "in_progress"]),
                        }
                        for _ in range(rng.randint(1, 40))
                    ]
                    seen = set()
                    cells = [c for c in cells if not (c["step"] in seen or seen.add(c["step"]))]
                    r = await client.put(
                        f"/api/v1/bodies/{code}/reports/{period}",
                        json={"cells": cells},
                        headers={"Authorization": f"Bearer {tokens[code]}"},
                    )
                elif rng.random() < 0.3:
                    code = rng.choice(codes)
                    r = await client.get(
                        f"/api/v1/bodies/{code}/reports/{period}", headers={"Authorization": f"Bearer {tokens[code]}"}
                    )
                else:
                    r = await client.get(rng.choice(READS), headers={"Authorization": f"Bearer {tokens['viewer']}"})
                if r.status_code >= 400:
                    errors.append(f"{r.status_code} {r.request.url.path}")
            except httpx.HTTPError as exc:
                where = exc.request.url.path if isinstance(exc, httpx.RequestError) else ""
                errors.append(f"{type(exc).__name__} {where} after {time.perf_counter() - started:.1f} s")
            latencies.append((time.perf_counter() - started) * 1000)


async def run_load(base: str, tokens: dict, codes: list[str], seconds: int, clients: int) -> dict:
    latencies, errors = [], []
    until = time.time() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(client_loop(base, tokens, codes, until, latencies, errors, random.Random(i)) for i in range(clients))
    )
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_sample": errors[:5],
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    env = prepare(args.db)
    url = env["PMO_DATABASE_URL"]
    codes = ["131016", "131024", "131032", "131041", "011002", "271004", "401005", "163210"]
    tokens = make_tokens(url, codes)
    results = {}
    for workers in (1, 2):
        server = Server(url, workers=workers)
        try:
            asyncio.run(run_load(server.url, tokens, codes, 5, args.clients))  # warm caches
            results[f"workers_{workers}"] = outcome = asyncio.run(
                run_load(server.url, tokens, codes, args.seconds, args.clients)
            )
        finally:
            server.stop()
        outcome["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        print(
            f"{args.db} {workers} worker(s): {outcome['requests_per_s']} req/s, p50 {outcome['p50_ms']} ms, "
            f"p99 {outcome['p99_ms']} ms, errors {outcome['errors']} {outcome['error_sample']} "
            f"(load average after {outcome['loadavg_after']})",
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"load-{args.db}.json").write_text(json.dumps(results, indent=2))
    sys.exit(1 if any(r["errors"] for r in results.values()) else 0)


if __name__ == "__main__":
    main()
