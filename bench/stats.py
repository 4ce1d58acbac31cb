"""Statistics benchmarks with the full demo history (issue 4): in process and through HTTP.

    .venv/bin/python bench/stats.py [--db sqlite|postgresql|both] [--seconds 5] [--rounds 5] [--pg-db NAME]

Builds (once) a demo database per engine: var/bench/stats.sqlite3, or the PostgreSQL database
--pg-db (default $PMO_BENCH_PG_DB or pmo_bench_stats) on 127.0.0.1:5432. HTTP load comes from wrk
(apt-get install wrk) on 127.0.0.1 only: GET /api/v1/stats/progress?by=operation,step against a trivial
`async def` FastAPI endpoint returning the same bytes and headers (bench/trivial_app.py), alternated --rounds
times with 1 and with 2 uvicorn workers; the medians are reported (goal, issue 18: ≥ 0.9 of that floor)."""

import argparse
import collections
import json
import logging
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from inprocess import InProcessClient

ROOT = Path(__file__).resolve().parents[1]
PMO = str(ROOT / ".venv" / "bin" / "pmo")
PY = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results"
SQLITE_URL = f"sqlite:///{ROOT / 'var' / 'bench' / 'stats.sqlite3'}"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
PG_DB = os.environ.get("PMO_BENCH_PG_DB", "pmo_bench_stats")
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres"]


def run(args, env, **kw):
    return subprocess.run(args, env=env, check=True, capture_output=True, text=True, **kw)


def prepare(db: str, pg_db: str = PG_DB) -> dict:
    env = {**os.environ, "PMO_DATABASE_URL": PG_URL.format(pg_db) if db == "postgresql" else SQLITE_URL}
    if db == "postgresql":
        exists = subprocess.run(
            [*PSQL, "-Atc", f"SELECT 1 FROM pg_database WHERE datname='{pg_db}'"], capture_output=True, text=True
        )
        if exists.stdout.strip() != "1":
            run([*PSQL, "-c", f'CREATE DATABASE "{pg_db}"'], env)
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


def quiet_logs() -> None:
    """The in-process phase would print an access-log line per request (httpx's and pmo's) to stdout."""
    for name in ("httpx", "pmo.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def in_process(env: dict) -> dict:
    """p50 through the whole ASGI stack in this process (bench/inprocess.py, as bench/run.py)."""
    os.environ.update(env)
    from pmo.accounts import service as accounts
    from pmo.app import create_app
    from pmo.db import reset_engines, session_scope
    from pmo.stats.matrix import cache

    reset_engines()
    cache.clear()  # both demo databases hold the same data version: the other one's renderings would be served
    quiet_logs()
    with session_scope() as s:
        try:
            account = accounts.get_account(s, "bench-viewer")
        except Exception:
            account = accounts.create_account(s, "bench-viewer", "viewer", None, actor="bench")
        token = accounts.issue_token(s, account, actor="bench", ttl_days=1).token
    client = InProcessClient(create_app())
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
        median, worst = p50(lambda url=url: client.get(url, headers=headers), 50)
        out[name] = {
            "cold_ms": round(cold, 1),
            "p50_ms": round(median, 2),
            "max_ms": round(worst, 1),
            "bytes": len(r.content),
        }
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


def _cpu_seconds(root: int) -> float:
    """CPU time used so far by a process and all its descendants (Linux /proc)."""
    parents, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    family, changed = {root}, True
    while changed:
        grown = family | {pid for pid, ppid in parents.items() if ppid in family}
        changed, family = grown != family, grown
    return sum(ticks.get(pid, 0) for pid in family) / os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU time the whole machine has spent busy so far (all cores, /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def others_cores(run):
    """run()'s result and how many cores other work (not this bench, its servers or wrk) kept busy meanwhile."""

    def mine() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return _cpu_seconds(os.getpid()) + children.ru_utime + children.ru_stime  # living family + waited-for wrk

    busy, own, started = _busy_seconds(), mine(), time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    return result, round(max(0.0, (_busy_seconds() - busy) - (mine() - own)) / elapsed, 2)


def wait_idle(pid: int, timeout: float = 180) -> float:
    """Wait until a server (every worker) has used < 5 % of a core for two seconds; returns the seconds waited."""
    started = time.monotonic()
    quiet, last = 0, _cpu_seconds(pid)
    while quiet < 2 and time.monotonic() - started < timeout:
        time.sleep(1)
        now = _cpu_seconds(pid)
        quiet, last = (quiet + 1 if now - last < 0.05 else 0), now
    return time.monotonic() - started


CONNECTIONS = 8


def connections_per_worker(port: int) -> list[int]:
    """How many established connections to port each server process holds, fewest first (ss)."""
    text = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    return sorted(collections.Counter(re.findall(r"pid=(\d+)", text)).values())


def _balanced(split: list[int], workers: int) -> bool:
    return len(split) == workers and min(split) >= CONNECTIONS // (2 * workers)


def wrk(url: str, seconds: int, headers: dict | None = None, workers: int = 1) -> dict:
    """wrk with CONNECTIONS keep-alive connections; with several workers, only a run they share fairly counts.

    asyncio accepts every pending connection at once, so one worker often takes all of wrk's simultaneous
    connects while the other idles; such a run is restarted (up to 50 times) until each worker holds at least
    half its share."""
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    for k, v in (headers or {}).items():
        args[1:1] = ["-H", f"{k}: {v}"]
    port = int(re.search(r":(\d+)/", url).group(1))
    for attempt in range(1, 51):
        run = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        split = connections_per_worker(port)
        if workers == 1 or _balanced(split, workers) or attempt == 50:
            break
        run.kill()
        run.wait()
    text = run.communicate()[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
    factor = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests_per_s": rps,
        "p99_ms": round(float(p99.group(1)) * factor, 2),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "connections_per_worker": split,
        "balanced": workers == 1 or _balanced(split, workers),
        "attempts": attempt,
    }


def start_servers(env: dict, workers: int, body_file: Path) -> tuple[subprocess.Popen, int, subprocess.Popen, int]:
    """pmo serve and the trivial app, each with the given number of uvicorn workers, on free ports."""
    port, trivial_port = free_port(), free_port()
    server = subprocess.Popen(
        [PMO, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trivial = subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "bench.trivial_app:app",
            "--port",
            str(trivial_port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env={
            **env,
            "PMO_BENCH_BODY": str(body_file),
            "PMO_BENCH_HEADERS": str(body_file.with_name("stats-headers.json")),
        },
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(port, "/healthz")
    wait_up(trivial_port, "/bytes")
    return server, port, trivial, trivial_port


def warm(server: subprocess.Popen, trivial: subprocess.Popen, urls: tuple[str, str], auth: str, workers: int) -> float:
    """Wait out each worker's warm-up (PMO_WARM_CACHE), then have every worker of both apps serve requests
    (the first statistics request of a worker renders and caches the response)."""
    waited = wait_idle(server.pid)
    wrk(urls[0], 3, {"Authorization": auth}, workers)
    wrk(urls[1], 3, workers=workers)
    wait_idle(server.pid)
    wait_idle(trivial.pid)
    return waited


def one_round(stats_url: str, trivial_url: str, auth: str, seconds: int, workers: int) -> dict:
    """wrk on the statistics endpoint, then on the trivial app, with the other work seen during each."""
    real, others_stats = others_cores(lambda: wrk(stats_url, seconds, {"Authorization": auth}, workers))
    floor, others_trivial = others_cores(lambda: wrk(trivial_url, seconds, workers=workers))
    return {
        "stats": real,
        "trivial_same_bytes": floor,
        "ratio": round(real["requests_per_s"] / floor["requests_per_s"], 3),
        "other_cores": [others_stats, others_trivial],
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


def _medians(pairs: list[dict], side: str) -> dict:
    return {key: statistics.median(pair[side][key] for pair in pairs) for key in ("requests_per_s", "p99_ms")}


def measure(stats_url: str, trivial_url: str, auth: str, seconds: int, rounds: int, workers: int) -> dict:
    """Alternate wrk on the statistics endpoint and on the trivial app; medians over the rounds."""
    pairs = [one_round(stats_url, trivial_url, auth, seconds, workers) for _ in range(rounds)]
    return {
        "stats": _medians(pairs, "stats"),
        "trivial_same_bytes": _medians(pairs, "trivial_same_bytes"),
        "ratio": statistics.median(pair["ratio"] for pair in pairs),
        "non_2xx": sum(pair["stats"]["non_2xx"] for pair in pairs),
        "rounds": pairs,
    }


def http(env: dict, client, headers: dict, seconds: int, rounds: int) -> dict:
    if shutil.which("wrk") is None:
        print("  wrk not installed (apt-get install wrk); skipping HTTP", flush=True)
        return {}
    url = "/api/v1/stats/progress?by=operation,step"
    body_file = ROOT / "var" / "bench" / "stats-body.json"
    answer = client.get(url, headers=headers)
    body_file.write_bytes(answer.content)
    kept = ("etag", "cache-control")  # the floor sends what a cache needs too, not only the bytes
    headers_file = body_file.with_name("stats-headers.json")
    headers_file.write_text(json.dumps({k: v for k, v in answer.headers.items() if k.lower() in kept}))
    auth = headers["Authorization"]
    out = {}
    for workers in (1, 2):
        load_before = os.getloadavg()  # the machine's own load, before this phase adds its servers and wrk
        server, port, trivial, trivial_port = start_servers(env, workers, body_file)
        try:
            urls = (f"http://127.0.0.1:{port}{url}", f"http://127.0.0.1:{trivial_port}/bytes")
            warm_up_s = warm(server, trivial, urls, auth, workers)
            result = measure(*urls, auth, seconds, rounds, workers)
        finally:
            for p in (server, trivial):
                p.terminate()
                p.wait(timeout=20)
        out[f"workers_{workers}"] = {**result, "warm_up_s": round(warm_up_s, 1), "loadavg_before": load_before}
        report(workers, result, load_before)
    return out


def _split(run: dict) -> str:
    return f"{run['connections_per_worker']}" + ("" if run["balanced"] else " (unbalanced)")


def report(workers: int, result: dict, load_before: tuple) -> None:
    """One line per round, then the medians."""
    for pair in result["rounds"]:
        stats, trivial, cores = pair["stats"], pair["trivial_same_bytes"], pair["other_cores"]
        print(
            f"    {workers} worker(s): stats {stats['requests_per_s']:.0f} req/s (p99 {stats['p99_ms']} ms), "
            f"trivial {trivial['requests_per_s']:.0f} req/s (p99 {trivial['p99_ms']} ms), "
            f"ratio {pair['ratio']:.2f}; connections {_split(stats)} / {_split(trivial)}; "
            f"other work {cores[0]:.2f} / {cores[1]:.2f} cores, load {pair['loadavg_1min']:.2f}",
            flush=True,
        )
    print(
        f"  HTTP {workers} worker(s), median of {len(result['rounds'])}: "
        f"stats {result['stats']['requests_per_s']:.0f} req/s "
        f"p99 {result['stats']['p99_ms']} ms; trivial {result['trivial_same_bytes']['requests_per_s']:.0f} req/s "
        f"p99 {result['trivial_same_bytes']['p99_ms']} ms; ratio {result['ratio']:.2f} (goal ≥ 0.9); "
        f"load before {load_before[0]:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating stats/trivial wrk runs per worker count")
    parser.add_argument(
        "--pg-db",
        default=PG_DB,
        help="PostgreSQL database to build and measure (default $PMO_BENCH_PG_DB or pmo_bench_stats)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        print(f"== {db}", flush=True)
        env = prepare(db, args.pg_db)
        result = {"database": db, "cores": os.cpu_count(), "loadavg": os.getloadavg()}
        result["in_process"], client, headers = in_process(env)
        result["http"] = http(env, client, headers, args.seconds, args.rounds)
        client.close()
        (RESULTS / f"stats-{db}.json").write_text(json.dumps(result, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
