"""The outbox under the mixed load test, with the SMTP server going down and up (issue 17).

    .venv/bin/python bench/outbox_load.py [--db sqlite|postgresql] [--seconds 60] [--clients 6]

bench/load.py's mix (statistics, grid reads, report submissions) runs against `pmo serve` (2 workers) on the
benchmark demo database, while one more client files inquiries as municipalities and answers them as their
prefectures (each writes messages: to the prefecture's queue, to the asker), `pmo outbox deliver` runs every
second as cron would, and an aiosmtpd server on loopback is stopped and started again every 8 seconds. At the
end the server stays up until the outbox is empty. Every message written during the run must arrive exactly
once: lost = written − received, duplicates = received − distinct. Results: bench/results/outbox-load-<db>.json."""

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import client_loop, make_tokens  # noqa: E402
from bench.outbox import PMO, Counting  # noqa: E402
from bench.stats import RESULTS, prepare  # noqa: E402
from tests.serverproc import Server  # noqa: E402

CODES = ["131016", "131024", "131032", "131041", "011002", "271004", "401005", "163210"]
QUESTION = {"title": "負荷試験の問合せ", "question": "移行時期の考え方を教えてください。", "category": "schedule"}


def people(url: str) -> tuple[dict[str, str], int]:
    """Sign-in e-mails for the load accounts, a prefecture account with a token per prefecture of CODES; the
    prefecture tokens, and the outbox's last id before the run."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from pmo.accounts import passwords
    from pmo.accounts import service as accounts
    from pmo.db import build_engine
    from pmo.directory.codes import prefecture_body_code
    from pmo.models import Account, OutboxMessage

    engine = build_engine(url)
    tokens = {}
    with Session(engine) as s:
        for code in CODES:
            account = accounts.get_account(s, f"load-{code}")
            passwords.claim_email(s, account, f"load-{code}@example.lg.jp")
            pref = prefecture_body_code(code[:2])
            name = f"load-pref-{pref}"
            found = s.scalar(select(Account).where(Account.name == name))
            found = found or accounts.create_account(s, name, "prefecture", pref, actor="bench")
            passwords.claim_email(s, found, f"{name}@example.lg.jp")
            tokens[code] = accounts.issue_token(s, found, actor="bench", ttl_days=1).token
        last = s.scalar(select(func.max(OutboxMessage.id))) or 0
        s.commit()
    engine.dispose()
    return tokens, last


async def inquiry_loop(base: str, askers: dict, answerers: dict, until: float, done: list, errors: list) -> None:
    rng = random.Random(99)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.time() < until:
            code = rng.choice(CODES)
            filed = await client.post(
                "/api/v1/inquiries", json=QUESTION, headers={"Authorization": f"Bearer {askers[code]}"}
            )
            if filed.status_code != 201:
                errors.append(f"file {filed.status_code}")
                continue
            answered = await client.post(
                f"/api/v1/inquiries/{filed.json()['id']}/answer",
                json={"text": "標準仕様書のとおりです。"},
                headers={"Authorization": f"Bearer {answerers[code]}"},
            )
            if answered.status_code != 200:
                errors.append(f"answer {answered.status_code}")
            done.append(1)
            await asyncio.sleep(0.2)


async def load(base: str, tokens: dict, answerers: dict, seconds: int, clients: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    answered: list[int] = []
    until = time.time() + seconds
    await asyncio.gather(
        *(client_loop(base, tokens, CODES, until, latencies, errors, random.Random(i)) for i in range(clients)),
        inquiry_loop(base, tokens, answerers, until, answered, errors),
    )
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_sample": errors[:5],
        "inquiries_filed_and_answered": len(answered),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    env = prepare(args.db)
    url = env["PMO_DATABASE_URL"]
    tokens = make_tokens(url, CODES)
    answerers, last_id = people(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Counting()
    smtp: dict[str, Controller | None] = {"server": None}
    switches = {"down": 0}

    def up() -> None:
        if smtp["server"] is None:
            smtp["server"] = Controller(inbox, hostname="127.0.0.1", port=port)
            smtp["server"].start()

    def down() -> None:
        if smtp["server"] is not None:
            smtp["server"].stop()
            smtp["server"] = None
            switches["down"] += 1

    deliver_env = {**env, "PMO_SMTP_URL": f"smtp://127.0.0.1:{port}", "PMO_OUTBOX_RETRY_SECONDS": "1"}
    stop = threading.Event()

    def cron() -> None:  # `pmo outbox deliver` every second, as cron would (but faster)
        while not stop.is_set():
            subprocess.run([PMO, "outbox", "deliver"], env=deliver_env, capture_output=True)
            stop.wait(1)

    def flapping() -> None:
        while not stop.wait(8):
            down() if smtp["server"] is not None else up()

    server = Server(url, workers=2)
    up()
    threads = [threading.Thread(target=cron), threading.Thread(target=flapping)]
    try:
        for t in threads:
            t.start()
        outcome = asyncio.run(load(server.url, tokens, answerers, args.seconds, args.clients))
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    up()
    for _ in range(30):  # the server stays up now: deliver until nothing is left
        out = subprocess.run([PMO, "outbox", "deliver"], env=deliver_env, capture_output=True, text=True)
        if "0 waiting" in out.stdout or "waiting 0" in out.stdout:
            break
        time.sleep(1.1)
    down()
    from sqlalchemy import create_engine, select

    from pmo.models import OutboxMessage

    engine = create_engine(url)
    with engine.connect() as c:
        written = {
            str(i)
            for i in c.execute(
                select(OutboxMessage.id).where(OutboxMessage.id > last_id, OutboxMessage.delivery == "immediate")
            ).scalars()
        }
    engine.dispose()
    received = [i for i in inbox.ids if int(i) > last_id]
    outcome.update(
        db=args.db,
        seconds=args.seconds,
        smtp_stopped=switches["down"] - 1,  # the last stop is the end of the run
        messages_written=len(written),
        received=len(received),
        lost=len(written - set(received)),
        duplicates=len(received) - len(set(received)),
        load_average=[round(x, 2) for x in os.getloadavg()],
        last_deliver=out.stdout.strip(),
    )
    print(json.dumps(outcome, ensure_ascii=False), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"outbox-load-{args.db}.json").write_text(json.dumps(outcome, indent=2, ensure_ascii=False) + "\n")
    sys.exit(1 if outcome["lost"] or outcome["duplicates"] or outcome["errors"] else 0)


if __name__ == "__main__":
    main()
