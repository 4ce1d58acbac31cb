"""The worst uploads we can build under 2 MB: extra memory (tracemalloc peak) and CPU per request,
through the app in process against a fresh SQLite database. Target (issue #14): ≤ 50 MB, ≤ 1 s each.

    .venv/bin/python bench/uploads.py"""

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Settings are read once, on first use: point them at a throwaway database before anything imports pmo.
os.environ["PMO_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ["PMO_WARM_CACHE"] = "false"

from tests.test_hostile_input import HEADER, every_cell, patched, widest_sparse_sheet, workbook


def deep_blank_sheet() -> bytes:
    """One data row at the sheet's last row: a million blank rows above it."""
    return patched(
        workbook({1: HEADER}),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(
            b"</sheetData>",
            b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>koseki</t></is></c></row></sheetData>',
        ),
    )


def dense_sheet() -> bytes:
    """As many filled cells (40 columns of text) as the unzipped-size cap lets through."""
    rows = {1: HEADER + [f"extra{i}" for i in range(36)]}
    for i, row in enumerate(every_cell()):
        rows[2 + i] = row[:3] + ["備考のテキスト" * 3] + [f"x{i}-{j}" for j in range(36)]
    return workbook(rows)


def cases() -> dict[str, tuple[str, bytes]]:
    long_csv = (
        "業務コード,ステップ,状況,備考\n"
        + "".join(f"{op},{step},完了済み,{'長い備考' * 200}\n" for op, step, *_ in every_cell() * 2)
    ).encode()[:2_000_000]
    out = {
        "xlsx 16,384 columns declared, 2,000 sparse rows": ("wide.xlsx", widest_sparse_sheet(2000)),
        "xlsx 16,384 columns declared, 27,000 sparse rows (just under the 2 MB unzipped cap)": (
            "wide27k.xlsx",
            widest_sparse_sheet(27_000),
        ),
        "xlsx one row under 1,048,575 blank rows": ("deep.xlsx", deep_blank_sheet()),
        "xlsx 800 rows × 40 columns of text": ("dense.xlsx", dense_sheet()),
        "csv 2 MB, long notes": ("long.csv", long_csv),
        "csv one 1.9 MB field": (
            "field.csv",
            ("業務コード,ステップ,状況,備考\nkoseki,S01,完了済み," + "x" * 1_900_000).encode(),
        ),
    }
    return {k: v for k, v in out.items() if len(v[1]) <= 2_000_000}


def main() -> None:
    from fastapi.testclient import TestClient

    from pmo.accounts import service
    from pmo.app import create_app
    from pmo.cli import db_upgrade, seed
    from pmo.db import session_scope

    db_upgrade("head")
    seed(None)
    with session_scope() as session:
        account = service.create_account(session, "bench-upload", "municipality", "131016", actor="bench")
        headers = {"Authorization": f"Bearer {service.issue_token(session, account, actor='bench', ttl_days=1).token}"}
    url = "/api/v1/bodies/131016/reports/2026-11/upload"
    print("| file | size | status | extra memory (peak) | CPU |\n|---|---|---|---|---|")
    with TestClient(create_app()) as client:
        client.post(url, headers=headers, files={"file": ("warm.csv", b"a,b\n")})  # imports and caches paid once
        for label, (name, content) in cases().items():
            cpu = time.process_time()  # CPU without tracing (tracemalloc slows Python several times over)
            r = client.post(url, headers=headers, files={"file": (name, content)})
            cpu = time.process_time() - cpu
            tracemalloc.start()
            client.post(url, headers=headers, files={"file": (name, content)})
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"| {label} | {len(content) / 1e6:.2f} MB | {r.status_code} | {peak / 1e6:.1f} MB | {cpu:.2f} s |")


if __name__ == "__main__":
    main()
