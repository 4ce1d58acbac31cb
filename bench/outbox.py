"""How long 2,000 reminders take to write and to deliver (issue 17), on each database.

    .venv/bin/python bench/outbox.py [--db sqlite|postgresql|both] [--people 2000]

A fresh database (seeded, no reports for the month being reported) gets `--people` municipality and
prefecture accounts with sign-in e-mails, spread over the bodies; `pmo remind` as of three business days
before a due day writes one reminder each; `pmo outbox deliver` sends them to an aiosmtpd server in this
process (a real SMTP conversation over loopback, one connection per run). Each step runs in its own process,
as cron runs them. Results: bench/results/outbox-<db>.json."""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
PMO = str(ROOT / ".venv" / "bin" / "pmo")
RESULTS = ROOT / "bench" / "results"
REMIND_AT = "2026-12-07T09:00+09:00"  # 2026-11's report is due 12/10: three business days ahead


class Counting:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        for line in envelope.content.splitlines():
            if line.startswith(b"X-Pmo-Outbox-Id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
        return "250 OK"


def database(db: str) -> str:
    if db == "postgresql":
        name = "pmo_bench_outbox"
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc"]
        subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}"'], check=True, capture_output=True)
        subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    path = ROOT / "var" / "bench" / "outbox.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


PEOPLE = """
import sys
from sqlalchemy import select
from pmo.accounts import passwords, service
from pmo.db import session_scope
from pmo.models import Body
n = int(sys.argv[1])
with session_scope() as session:
    bodies = list(session.scalars(select(Body).order_by(Body.code)))
    for i in range(n):
        body = bodies[i % len(bodies)]
        role = "prefecture" if body.kind == "prefecture" else "municipality"
        account = service.create_account(session, f"bench-{i}", role, body.code, actor="bench")
        passwords.claim_email(session, account, f"bench-{i}@example.lg.jp")
"""


def run(db: str, people: int) -> dict:
    env = {**os.environ, "PMO_DATABASE_URL": database(db), "PMO_LOG_LEVEL": "WARNING"}
    for args in (["db", "upgrade"], ["seed"]):
        subprocess.run([PMO, *args], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", PEOPLE, str(people)], env=env, check=True)
    started = time.perf_counter()
    out = subprocess.run([PMO, "remind", "--at", REMIND_AT], env=env, check=True, capture_output=True, text=True)
    remind_s = time.perf_counter() - started
    inbox = Counting()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        started = time.perf_counter()
        sent = subprocess.run(
            [PMO, "outbox", "deliver", "--limit", str(people * 2)],
            env={**env, "PMO_SMTP_URL": f"smtp://127.0.0.1:{port}"},
            check=True,
            capture_output=True,
            text=True,
        )
        deliver_s = time.perf_counter() - started
    finally:
        controller.stop()
    result = {
        "db": db,
        "people": people,
        "remind": out.stdout.strip(),
        "remind_s": round(remind_s, 2),
        "deliver": sent.stdout.strip(),
        "deliver_s": round(deliver_s, 2),
        "received": len(inbox.ids),
        "distinct": len(set(inbox.ids)),
        "per_message_ms": round(deliver_s * 1000 / max(len(inbox.ids), 1), 2),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--people", type=int, default=2000)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        (RESULTS / f"outbox-{db}.json").write_text(json.dumps(run(db, args.people), indent=2) + "\n")


if __name__ == "__main__":
    main()
