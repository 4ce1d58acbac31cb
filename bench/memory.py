"""Worker memory under an adversarial crawl of distinct statistics queries, 120 months of history (issue 18).

    .venv/bin/python bench/memory.py [--months 120] [--response-mb 256] [--minutes 4]

Serves the bench/history.py database of that length (built there, clock moved forward the same way) with
`pmo serve --workers 1`, then asks for as many distinct statistics answers as it can in the time given —
the biggest first (each prefecture's whole-history trend by operation and step), then every period's tables
by every grouping, every prefecture and kind — sampling the worker's resident memory (VmRSS) every second.
What it shows: the peak against the sum of the caches' byte budgets plus the worker's memory once warmed
(the fixed overhead), and each cache's bytes from /metrics at the end. Results: bench/results/memory.json."""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from history import CLOCK_OFFSET_DAYS, PMO, RESULTS, build, database_url
from stats import free_port, wait_idle, wait_up


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


def crawl(base: str, headers: dict, deadline: float, periods: list[str]) -> int:
    prefectures = [f"{n:02d}" for n in range(1, 48)]
    queries = [("trend", {"by": "operation,step", "prefecture": p}) for p in prefectures]
    for period in reversed(periods):
        for by in ("operation,step", "prefecture,operation", "kind", "step", "phase"):
            queries.append(("progress", {"period": period, "by": by}))
        queries += [("progress", {"period": period, "by": "operation,step", "prefecture": p}) for p in prefectures]
        queries += [("reporting", {"period": period, "by": by}) for by in ("prefecture", "kind", "none")]
        queries.append(("distribution", {"period": period}))
    asked = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for path, params in queries:
            if time.monotonic() > deadline:
                break
            r = client.get(f"/api/v1/stats/{path}", params=params)
            assert r.status_code == 200, (path, params, r.status_code, r.text[:200])
            asked += 1
    return asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--response-mb", type=int, default=256, help="PMO_STATS_RESPONSE_CACHE_MB for the run")
    args = parser.parse_args()
    env = {**os.environ, "PMO_DATABASE_URL": database_url("sqlite", args.months)}
    env.update(PMO_CLOCK_OFFSET_DAYS=str(CLOCK_OFFSET_DAYS), PMO_STATS_RESPONSE_CACHE_MB=str(args.response_mb))
    build("sqlite", args.months, env)
    name = f"memory-bench-{os.getpid()}"
    token = subprocess.run(
        [PMO, "tokens", "issue", name, "--role", "viewer", "--days", "1"], env=env, capture_output=True, text=True
    )
    secret = re.search(r"(pmo_\S+)", token.stdout).group(1)
    port = free_port()
    server = subprocess.Popen(
        [PMO, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples: list[tuple[float, float]] = []
    try:
        wait_up(port, "/healthz")
        wait_idle(server.pid)
        warmed = rss_mb(server.pid)
        started = time.monotonic()
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1):
                samples.append((round(time.monotonic() - started, 1), round(rss_mb(server.pid), 1)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        from pmo import periods

        os.environ["PMO_CLOCK_OFFSET_DAYS"] = str(CLOCK_OFFSET_DAYS)
        last = periods.add_months(periods.current(), -1)
        history = [periods.fmt(p) for p in periods.span(periods.add_months(last, 1 - args.months), last)]
        asked = crawl(
            f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {secret}"}, started + args.minutes * 60, history
        )
        stop.set()
        sampler.join()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=30)
    caches = {m[0]: float(m[1]) / 2**20 for m in re.findall(r'pmo_cache_bytes\{cache="([^"]+)"\} ([\d.e+]+)', metrics)}
    budgets = {
        "stats_responses": args.response_mb,
        "stats_summaries": 96,
        "stats_matrices": 48,
        "stats_derived": 64,
        "stats_queries": 8,
    }
    peak = max(rss for _, rss in samples) if samples else warmed
    result = {
        "months": args.months,
        "queries": asked,
        "warmed_rss_mb": round(warmed, 1),
        "peak_rss_mb": peak,
        "budgets_mb": budgets,
        "bound_mb": round(warmed + sum(budgets.values()), 1),
        "cache_mb_at_end": {k: round(v, 1) for k, v in caches.items()},
        "samples": samples,
        "loadavg": os.getloadavg()[0],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(result, indent=2))
    print(
        f"{args.months} months, {asked} distinct queries in {args.minutes} min: worker RSS {warmed:.0f} MB warmed, "
        f"peak {peak:.0f} MB; budgets {sum(budgets.values())} MB → bound {result['bound_mb']:.0f} MB; "
        f"caches at the end: {result['cache_mb_at_end']}"
    )


if __name__ == "__main__":
    main()
