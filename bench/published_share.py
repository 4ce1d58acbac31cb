"""Share of statistics cells published (not suppressed) per table, on the database PMO_DATABASE_URL
points at (e.g. after `make run` / `pmo demo`). Run it on two commits to compare their tables:

    PMO_DATABASE_URL=sqlite:////path/pmo.db .venv/bin/python bench/published_share.py

Tables the API refuses (422) are reported as not served."""

import os
import sys

from fastapi.testclient import TestClient

os.environ.setdefault("PMO_WARM_CACHE", "false")
from pmo import periods
from pmo.accounts import service
from pmo.app import create_app
from pmo.db import session_scope

PREFECTURES = [f"{i:02d}" for i in range(1, 48)]
FINE = ("prefecture", "designated_city", "city", "special_ward", "town", "village")
COARSE = ("cities", "towns_villages")
LAST = periods.fmt(periods.add_months(periods.current(), -1))


def tables():
    """(label, [(path, params), ...]) of every table family a statistics-only caller can read."""
    yield "progress by=operation,step (national)", [("progress", {"by": "operation,step"})]
    yield "progress by=prefecture,operation", [("progress", {"by": "prefecture,operation"})]
    yield (
        "progress by=kind, operation,step per kind",
        [("progress", {"by": "operation,step", "kind": k}) for k in FINE + COARSE],
    )
    yield "progress by=kind&prefecture=NN", [("progress", {"by": "kind", "prefecture": p}) for p in PREFECTURES]
    yield (
        "progress by=operation,step&prefecture=NN",
        [("progress", {"by": "operation,step", "prefecture": p}) for p in PREFECTURES],
    )
    yield "progress by=prefecture&kind=K", [("progress", {"by": "prefecture", "kind": k}) for k in FINE + COARSE]
    yield "reporting by=prefecture / kind", [("reporting", {"by": "prefecture"}), ("reporting", {"by": "kind"})]
    yield "distribution", [("distribution", {})]
    yield (
        "systems by=reason / prefecture / kind / prefecture,reason",
        [("systems", {"by": b}) for b in ("reason", "prefecture", "kind", "prefecture,reason")],
    )
    yield "advisers by=prefecture", [("advisers", {"by": "prefecture"})]
    yield (
        "inquiries by=operation / tier / state / category",
        [("inquiries", {"by": b}) for b in ("operation", "tier", "state", "category")],
    )


def main() -> None:
    import secrets

    with session_scope() as session:
        account = service.create_account(session, f"share-{secrets.token_hex(3)}", "viewer", None, actor="bench")
        headers = {"Authorization": f"Bearer {service.issue_token(session, account, actor='bench', ttl_days=1).token}"}
    print("| table | requests served | cells | published |\n|---|---|---|---|")
    with TestClient(create_app()) as client:
        for label, requests in tables():
            served = cells = published = 0
            for path, params in requests:
                params = {"period": LAST, **params} if path in ("progress", "reporting", "distribution") else params
                r = client.get(f"/api/v1/stats/{path}", headers=headers, params=params)
                if r.status_code == 422:
                    continue
                r.raise_for_status()
                served += 1
                body = r.json()
                rows = body.get("cells") or body.get("bins") or []
                cells += len(rows)
                published += sum(1 for c in rows if not c.get("suppressed"))
            share = f"{published / cells:.1%}" if cells else "—"
            print(f"| {label} | {served} of {len(requests)} | {cells:,} | {share} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
