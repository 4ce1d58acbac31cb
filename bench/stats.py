"""Statistics benchmarks with the full demo history (issue 4): in process and through HTTP.

    .venv/bin/python bench/stats.py [--db sqlite|postgresql|both] [--seconds 8]

Builds (once) a demo database per engine: var/bench/stats.sqlite3, or the PostgreSQL database
pmo_bench_stats on 127.0.0.1:5432. HTTP load comes from wrk (apt-get install wrk) on 127.0.0.1 only."""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PMO = str(ROOT / ".venv" / "bin" / "pmo")
PY = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results"
URLS = {
    "sqlite": f"sqlite:///{ROOT / 'var' / 'bench' / 'stats.sqlite3'}",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/pmo_bench_stats",
}


def run(args, env, **kw):
    return subprocess.run(args, env=env, check=True, capture_output=True, text=True, **kw)


def prepare(db: str) -> dict:
    env = {**os.environ, "PMO_DATABASE_URL": URLS[db]}
    if db == "postgresql":
        exists = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
                                 "SELECT 1 FROM pg_database WHERE datname='pmo_bench_stats'"], capture_output=True, text=True)
        if exists.stdout.strip() != "1":
            run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE pmo_bench_stats"], env)
    else:
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    run([PMO, "db", "upgrade"], env)
    run([PMO, "seed"], env)
    started = time.perf_counter()
    out = run([PMO, "demo", "--if-empty"], env).stdout.strip()
    print(f"[{db}] {out} ({time.perf_counter() - started:.0f} s)", flush=True)
    return env


def p50(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def in_process(env: dict) -> dict:
    """p50 through the whole ASGI stack in this process (TestClient)."""
    os.environ.update(env)
    from fastapi.testclient import TestClient

    from pmo.accounts import service as accounts
    from pmo.app import create_app
    from pmo.db import reset_engines, session_scope

    reset_engines()
    with session_scope() as s:
        try:
            account = accounts.get_account(s, "bench-viewer")
        except Exception:
            account = accounts.create_account(s, "bench-viewer", "viewer", None, actor="bench")
        token = accounts.issue_token(s, account, actor="bench", ttl_days=1).token
    client = TestClient(create_app())
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    cases = {
        "progress_operation_step": "/api/v1/stats/progress?by=operation,step",
        "progress_operation": "/api/v1/stats/progress?by=operation",
        "progress_prefecture_operation": "/api/v1/stats/progress?by=prefecture,operation",
        "trend_whole_history": "/api/v1/stats/trend?by=none",
        "trend_by_operation": "/api/v1/stats/trend?by=operation",
        "distribution": "/api/v1/stats/distribution",
        "reporting": "/api/v1/stats/reporting?by=prefecture",
    }
    for name, url in cases.items():
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        cold = (time.perf_counter() - t) * 1000
        assert r.status_code == 200, r.text
        median, worst = p50(lambda: client.get(url, headers=headers), 50)
        out[name] = {"cold_ms": round(cold, 1), "p50_ms": round(median, 2), "max_ms": round(worst, 1), "bytes": len(r.content)}
        print(f"  {name:32s} cold {cold:7.1f} ms   p50 {median:6.2f} ms", flush=True)
    return out, client, headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, path: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server on {port} did not come up")


def wrk(url: str, seconds: int, headers: dict | None = None) -> dict:
    args = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url]
    for k, v in (headers or {}).items():
        args[1:1] = ["-H", f"{k}: {v}"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
    factor = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"requests_per_s": rps, "p99_ms": round(float(p99.group(1)) * factor, 2), "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def http(env: dict, client, headers: dict, seconds: int) -> dict:
    if shutil.which("wrk") is None:
        print("  wrk not installed (apt-get install wrk); skipping HTTP", flush=True)
        return {}
    url = "/api/v1/stats/progress?by=operation,step"
    body_file = ROOT / "var" / "bench" / "stats-body.json"
    body_file.write_bytes(client.get(url, headers=headers).content)
    out = {}
    for workers in (1, 2):
        port = free_port()
        server = subprocess.Popen([PMO, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trivial_port = free_port()
        trivial = subprocess.Popen([PY, "-m", "uvicorn", "bench.trivial_app:app", "--port", str(trivial_port),
                                    "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
                                   env={**env, "PMO_BENCH_BODY": str(body_file)}, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(port, "/healthz")
            wait_up(trivial_port, "/bytes")
            stats_url = f"http://127.0.0.1:{port}{url}"
            time.sleep(15)  # let each worker's background warm-up load the matrices (PMO_WARM_CACHE)
            subprocess.run(["wrk", "-t1", "-c4", "-d5s", "-H", f"Authorization: {headers['Authorization']}", stats_url],
                           capture_output=True)  # then every worker renders and caches this response
            real = wrk(stats_url, seconds, {"Authorization": headers["Authorization"]})
            floor = wrk(f"http://127.0.0.1:{trivial_port}/bytes", seconds)
        finally:
            for p in (server, trivial):
                p.terminate()
                p.wait(timeout=20)
        ratio = real["requests_per_s"] / floor["requests_per_s"]
        out[f"workers_{workers}"] = {"stats": real, "trivial_same_bytes": floor, "ratio": round(ratio, 3)}
        print(f"  HTTP {workers} worker(s): stats {real['requests_per_s']:.0f} req/s p99 {real['p99_ms']} ms; "
              f"trivial {floor['requests_per_s']:.0f} req/s; ratio {ratio:.2f} (goal ≥ 0.5)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for db in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        print(f"== {db}", flush=True)
        env = prepare(db)
        result = {"database": db, "cores": os.cpu_count(), "loadavg": os.getloadavg()}
        result["in_process"], client, headers = in_process(env)
        result["http"] = http(env, client, headers, args.seconds)
        (RESULTS / f"stats-{db}.json").write_text(json.dumps(result, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
