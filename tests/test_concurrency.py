"""Several client processes submitting at once to a multi-worker server: nothing lost, nothing twice,
revisions gap-free, no 500."""

from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import httpx
from sqlalchemy import select

from pmo import periods
from pmo.db import build_engine
from pmo.models import Operation, ReportRevision, RevisionCells, Step
from pmo.reports.cellgrid import unpack_changes
from pmo.reports.grid import key_at
from tests.serverproc import Server
from tests.test_resilience import check_integrity, tokens

PERIOD = periods.fmt(periods.current())
SHARED, OTHERS = "131016", ["131024", "131032", "131041"]
OPERATIONS = ["koseki", "kokuho", "kaigo_hoken"]


def client_process(url: str, code: str, token: str, worker: int, n: int) -> list[tuple[int, str, str, int]]:
    """Submit n reports, each setting one cell no other submission sets; returns what was acknowledged."""
    acknowledged = []
    with httpx.Client(timeout=60) as client:
        for i in range(n):
            op, step = OPERATIONS[worker % len(OPERATIONS)], f"S{(worker // len(OPERATIONS)) * n + i + 1:02d}"
            r = client.put(
                f"{url}/api/v1/bodies/{code}/reports/{PERIOD}",
                headers={"Authorization": f"Bearer {token}"},
                json={"cells": [{"operation": op, "step": step, "status": "done"}]},
            )
            assert r.status_code == 200, (r.status_code, r.text)
            acknowledged.append((r.json()["revision"], code, op + "/" + step, r.json()["revision_id"]))
    return acknowledged


def test_concurrent_submissions_lose_nothing(prepared):
    tok = tokens(prepared, [SHARED, *OTHERS])
    server = Server(prepared, workers=2)
    n = 8
    jobs = [(SHARED, w) for w in range(6)] + [(code, w) for w, code in enumerate(OTHERS)]
    try:
        with ProcessPoolExecutor(max_workers=6) as pool:
            results = list(
                pool.map(
                    client_process,
                    [server.url] * len(jobs),
                    [c for c, _ in jobs],
                    [tok[c] for c, _ in jobs],
                    [w for _, w in jobs],
                    [n] * len(jobs),
                )
            )
    finally:
        server.stop()
    acknowledged = [a for batch in results for a in batch]
    assert len(acknowledged) == len(jobs) * n
    engine = build_engine(prepared)
    with engine.connect() as conn:
        for code in [SHARED, *OTHERS]:
            revisions = sorted(
                conn.scalars(
                    select(ReportRevision.revision).where(
                        ReportRevision.body_id == int(code), ReportRevision.period == periods.parse(PERIOD)
                    )
                )
            )
            expected = sum(1 for c, _ in jobs if c == code) * n
            assert revisions == list(range(1, expected + 1)), f"{code}: revisions not gap-free"
        operations = dict(conn.execute(select(Operation.id, Operation.code)).all())
        steps = dict(conn.execute(select(Step.id, Step.code)).all())
        counts = Counter(
            (f"{body_id:06d}", f"{operations[op]}/{steps[step]}")
            for body_id, blob in conn.execute(select(RevisionCells.body_id, RevisionCells.cells))
            for op, step in map(key_at, unpack_changes(blob))
        )
    engine.dispose()
    for _, code, cell, _ in acknowledged:
        assert counts.get((code, cell)) == 1, f"{code} {cell} stored {counts.get((code, cell))} times"
    assert len(counts) == len(acknowledged)
    check_integrity(prepared)
