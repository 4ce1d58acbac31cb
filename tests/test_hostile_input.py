"""Hostile files and odd input (issue #14): a clear 4xx and nothing stored, never a 500 or a silent cut.

Each file is built here from code, so the fixture cannot drift from what it attacks."""

import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from pmo import periods
from tests.conftest import OPERATION_CODES

CHIYODA, KAMIICHI, TOYAMA = "131016", "163228", "160008"
LAST = periods.fmt(periods.add_months(periods.current(), -1))
REPORT = f"/api/v1/bodies/{CHIYODA}/reports"
HEADER = ["業務コード", "ステップ", "状況", "備考"]


@pytest.fixture
def chiyoda(token_for):
    return token_for("municipality", CHIYODA)


def upload(client, headers, name, content):
    return client.post(f"{REPORT}/{LAST}/upload", headers=headers, files={"file": (name, content)})


def revisions(client, headers) -> int:
    return len(client.get(f"{REPORT}/{LAST}/revisions", headers=headers).json())


def workbook(rows: dict[int, list]) -> bytes:
    """An .xlsx with the given rows at the given sheet row numbers (the rest blank)."""
    wb = Workbook()
    ws = wb.active
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            ws.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def patched(content: bytes, member: str, change) -> bytes:
    """The workbook with one of its XML parts rewritten."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, change(data) if item.filename == member else data)
    return out.getvalue()


def every_cell(status="完了済み") -> list[list]:
    return [[f"{op}", f"S{step:02d}", status, None] for op in OPERATION_CODES for step in range(1, 41)]


def widest_sparse_sheet(rows: int = 2000) -> bytes:
    """The sheet declares A1:XFD1048576 and puts one value in column XFD of each row: openpyxl used to
    pad every row to 16,384 values (≈ 250 MB for a 12 KB file)."""
    cells = "".join(f'<row r="{r}"><c r="XFD{r}" t="inlineStr"><is><t>x</t></is></c></row>' for r in range(1, rows + 1))

    def change(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:XFD1048576"/>', xml)
        return re.sub(
            rb"<sheetData\s*/>|<sheetData>.*</sheetData>",
            b"<sheetData>" + cells.encode() + b"</sheetData>",
            xml,
            flags=re.S,
        )

    return patched(workbook({}), "xl/worksheets/sheet1.xml", change)


def test_a_sheet_declared_16384_columns_wide_is_read_only_as_wide_as_the_layout(client, chiyoda):
    content = widest_sparse_sheet()
    assert len(content) < 50_000
    r = upload(client, chiyoda, "wide.xlsx", content)
    assert r.status_code == 422 and "行がありません" in r.json()["message"]  # XFD is outside the layout's columns
    assert revisions(client, chiyoda) == 0


def test_blank_rows_do_not_count_and_nothing_is_cut(client, chiyoda, token_for):
    rows = {1: HEADER} | {2 + 3 * i: row for i, row in enumerate(every_cell())}  # 800 rows, two blank rows between
    r = upload(client, chiyoda, "spaced.xlsx", workbook(rows))
    assert r.status_code == 200, r.text
    assert r.json()["changed"] == 800
    kamiichi = token_for("municipality", KAMIICHI)
    below = workbook({1: HEADER, 2500: ["koseki", "S01", "作業中", "2,498 blank rows above"]})
    r = client.post(
        f"/api/v1/bodies/{KAMIICHI}/reports/{LAST}/upload", headers=kamiichi, files={"file": ("b.xlsx", below)}
    )
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    grid = client.get(f"/api/v1/bodies/{KAMIICHI}/reports/{LAST}", headers=kamiichi).json()
    assert (
        next(c for c in grid["cells"] if c["operation"] == "koseki" and c["step"] == "S01")["status"] == "in_progress"
    )


def test_a_file_with_more_rows_than_a_report_is_refused_whole(client, chiyoda):
    from pmo.reports.schemas import MAX_CELLS

    rows = {1: HEADER} | {2 + 2 * i: row for i, row in enumerate(every_cell() * 3)}  # 2,400 rows, blank ones between
    r = upload(client, chiyoda, "long.xlsx", workbook(rows))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["file", "row", 2 + 2 * MAX_CELLS], r.text[:500]
    assert f"{MAX_CELLS} 行まで" in r.json()["detail"][0]["msg"]
    assert revisions(client, chiyoda) == 0


@pytest.mark.parametrize(
    ("content", "where", "needle"),
    [
        ('業務コード,ステップ,状況\r\nkoseki,S01,"完了済み\r\n'.encode(), 2, "閉じていない引用符"),
        (("業務コード,ステップ,状況,備考\nkoseki,S01,完了済み," + "あ" * 140_000 + "\n").encode(), 2, "長すぎます"),
    ],
)
def test_broken_csv_is_a_422_that_says_what_is_wrong(client, chiyoda, content, where, needle):
    r = upload(client, chiyoda, "broken.csv", content)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["file", "row", where] and needle in detail["msg"]
    assert revisions(client, chiyoda) == 0


def test_csv_with_bare_cr_line_ends_is_read_like_any_other(client, chiyoda):
    r = upload(
        client, chiyoda, "mac.csv", "業務コード,ステップ,状況\rkoseki,S01,完了済み\rkoseki,S02,作業中\r".encode()
    )
    assert r.status_code == 200 and r.json()["changed"] == 2, r.text


def test_xlsx_with_an_xml_entity_declaration_is_refused(client, chiyoda):
    def bomb(xml: bytes) -> bytes:
        entities = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        return entities + xml.replace(b"<t>koseki</t>", b"<t>&b;</t>")

    content = patched(workbook({1: HEADER, 2: ["koseki", "S01", "完了済み"]}), "xl/worksheets/sheet1.xml", bomb)
    r = upload(client, chiyoda, "entity.xlsx", content)
    assert r.status_code == 422 and "DTD" in r.json()["detail"][0]["msg"], r.text


@pytest.mark.parametrize("bad", ["\x1b[31m", "a\x00b", "\x7f"])
def test_control_characters_are_refused_at_the_field_everywhere_text_enters(client, chiyoda, token_for, bad):
    r = client.put(
        f"{REPORT}/{LAST}",
        headers=chiyoda,
        json={"cells": [{"operation": "koseki", "step": "S01", "status": "done", "note": bad}]},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "note", r.text
    assert "制御文字" in r.json()["detail"][0]["msg"]
    file = f"業務コード,ステップ,状況,備考\nkoseki,S01,完了済み,{bad}\n".encode()
    r = upload(client, chiyoda, "ctrl.csv", file)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["file", "row", 2, "備考"], r.text
    kamiichi, toyama = token_for("municipality", KAMIICHI), token_for("prefecture", TOYAMA)
    for method, url, headers, payload, field in (
        ("PUT", f"/api/v1/bodies/{KAMIICHI}/systems/koseki", kamiichi, {"vendor": bad}, "vendor"),
        ("PUT", f"/api/v1/bodies/{KAMIICHI}/systems/koseki", kamiichi, {"note": bad}, "note"),
        ("POST", f"/api/v1/bodies/{KAMIICHI}/adviser-requests", kamiichi, {"topic": bad}, "topic"),
        ("POST", f"/api/v1/bodies/{KAMIICHI}/adviser-requests", kamiichi, {"topic": "相談", "detail": bad}, "detail"),
        (
            "POST",
            f"/api/v1/bodies/{KAMIICHI}/follow-ups",
            toyama,
            {"held_on": "2026-10-01", "channel": "phone", "learned": bad},
            "learned",
        ),
        (
            "POST",
            f"/api/v1/bodies/{KAMIICHI}/follow-ups",
            toyama,
            {"held_on": "2026-10-01", "channel": "phone", "learned": "確認", "agreed_actions": bad},
            "agreed_actions",
        ),
        ("POST", "/api/v1/inquiries", kamiichi, {"title": f"題{bad}", "question": "本文"}, "title"),
    ):
        r = client.request(method, url, headers=headers, json=payload)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field, (url, field, r.text)
    assert revisions(client, chiyoda) == 0


def test_lines_may_hold_tabs_and_line_breaks_but_single_line_fields_may_not(client, chiyoda, token_for):
    r = client.put(
        f"{REPORT}/{LAST}",
        headers=chiyoda,
        json={"cells": [{"operation": "koseki", "step": "S01", "status": "done", "note": "一行目\n二行目\tタブ"}]},
    )
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/inquiries", headers=chiyoda, json={"title": "一行目\n二行目", "question": "本文"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "title"


def test_an_export_survives_anything_already_stored(client, chiyoda, database_url):
    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.models import Body
    from pmo.reports.cellgrid import CellGrid, Changes
    from pmo.reports.grid import grid_template, load_catalog
    from pmo.reports.writer import NewRevision, write_revisions

    with session_scope() as s:  # stored before the schema refused control characters
        body = s.scalars(select(Body).where(Body.code == CHIYODA)).one()
        template = grid_template(load_catalog(s), body)
        write_revisions(
            s,
            body.id,
            [
                NewRevision(
                    body_id=body.id,
                    period=periods.parse(LAST),
                    revision=1,
                    submitted_at=periods.utcnow(),
                    account_id=None,
                    submitted_by="old",
                    late=False,
                    source="test",
                    changes=Changes.of({40: (1, None, None, None, "ESC\x1b NUL\x00 end")}),
                )
            ],
            base_grid=template,
            cells=CellGrid.blank(template),
        )
    for fmt in ("xlsx", "csv"):
        r = client.get(f"{REPORT}/{LAST}/download", params={"format": fmt}, headers=chiyoda)
        assert r.status_code == 200, (fmt, r.text)
    assert "ESC\ufffd NUL\ufffd end".encode() in r.content


@pytest.mark.parametrize("formula", ["＝SUM(1)", " =1+1", "\ufeff=1", "\u3000=1", "\n=1", "＋1", "\t=1"])
def test_formulas_behind_spaces_or_full_width_signs_are_neutralised(client, chiyoda, formula):
    client.put(
        f"{REPORT}/{LAST}",
        headers=chiyoda,
        json={"cells": [{"operation": "koseki", "step": "S01", "status": "done", "note": formula}]},
    )
    r = client.get(f"{REPORT}/{LAST}/download", params={"format": "csv"}, headers=chiyoda)
    assert ("'" + formula).encode() in r.content.replace(b"\r\n", b"\n")


def test_a_lone_surrogate_is_a_422_that_renders(client, chiyoda):
    body = b'{"cells": [{"operation": "koseki", "step": "S01", "status": "done", "note": "\\ud800"}]}'
    r = client.put(f"{REPORT}/{LAST}", headers={**chiyoda, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 422, r.text
    r = client.post(
        "/api/v1/inquiries",
        headers={**chiyoda, "Content-Type": "application/json"},
        content=b'{"title": "\\udfff", "question": "x"}',
    )
    assert r.status_code == 422 and r.json()["error"] == "validation_error"


@pytest.mark.parametrize("period", ["٢٠٢٦-11", "２０２６-11", "2026-11%0A", "2026-1"])
def test_a_period_is_exactly_four_ascii_digits_a_dash_and_a_month(client, chiyoda, period):
    r = client.get(f"{REPORT}/{period}", headers=chiyoda)  # %0A: the newline arrives percent-encoded
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "period"], r.text


def test_declared_constraints_are_what_is_accepted(client, token_for):
    toyama = token_for("prefecture", TOYAMA)
    url = f"/api/v1/bodies/{KAMIICHI}/follow-ups"
    for held_on in ("0001-01-01", "9999-12-31"):
        r = client.post(url, headers=toyama, json={"held_on": held_on, "channel": "phone", "learned": "確認"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "held_on", r.text
    r = client.post(
        url,
        headers=toyama,
        json={"held_on": "2026-10-01", "channel": "phone", "learned": "確認", "shared_with_national": 0},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "shared_with_national"
    r = client.get(f"/api/v1/bodies/13101X/reports/{LAST}", headers=toyama)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "code"]
    spec = client.get("/openapi.json").json()
    params = {
        p["name"]: p["schema"] for p in spec["paths"]["/api/v1/bodies/{code}/reports/{period}"]["get"]["parameters"]
    }
    assert params["code"]["pattern"] == "^[0-9]{6}$" and params["period"]["pattern"].startswith("^[0-9]{4}-")


def test_405_lists_every_method_of_the_path_and_head_works_wherever_get_does(client, chiyoda):
    r = client.delete(f"{REPORT}/{LAST}", headers=chiyoda)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, PUT"
    for path in (f"{REPORT}/{LAST}", "/api/v1/operations", "/healthz"):
        get, head = client.get(path, headers=chiyoda), client.head(path, headers=chiyoda)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_a_full_disk_is_a_503_that_says_so_and_readiness_follows(client, chiyoda, database_url, monkeypatch):
    from sqlalchemy import event, make_url

    from pmo.db import get_engine
    from pmo.health import storage

    monkeypatch.setattr(storage, "_last_full", None)  # and back to None afterwards: later tests start ready

    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("SQLite's max_page_count stands in for a full disk")
    import sqlite3

    engine = get_engine()
    engine.dispose()
    vacuum = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    vacuum.execute("VACUUM")  # no free pages left: the next write must grow the file
    vacuum.close()

    def no_room(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    event.listen(engine, "connect", no_room)
    try:
        cells = [
            {"operation": op, "step": f"S{i:02d}", "status": "done", "note": "記録" * 400}
            for op in OPERATION_CODES
            for i in range(1, 41)
        ]
        r = client.put(f"{REPORT}/{LAST}", headers=chiyoda, json={"cells": cells})
        assert r.status_code == 503 and r.json()["error"] == "storage_full", r.text
        assert "保存領域がいっぱい" in r.json()["message"] and "何も保存していません" in r.json()["message"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "保存領域の不足" in ready.json()["message"], ready.text
    finally:
        event.remove(engine, "connect", no_room)
        engine.dispose()
    assert revisions(client, chiyoda) == 0


def test_failed_sign_ins_are_throttled_per_token_and_per_client(client, token_for, monkeypatch):
    import secrets

    from pmo.config import get_settings

    good = token_for("viewer")["Authorization"].removeprefix("Bearer ")
    guess = {"Authorization": "Bearer " + good[:12] + "x" * (len(good) - 12)}  # someone knows the prefix
    limit = get_settings().auth_failures_per_token
    assert all(client.get("/api/v1/me", headers=guess).status_code == 401 for _ in range(limit))
    r = client.get("/api/v1/me", headers=guess)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "一時的に止めています" in r.json()["message"]
    from pmo.throttle import failures

    failures.clear()  # a minute later
    monkeypatch.setattr(get_settings(), "auth_failures_per_client", 5)
    other = token_for("helpdesk")
    random_tokens = [{"Authorization": f"Bearer pmo_{secrets.token_urlsafe(24)}"} for _ in range(6)]
    assert [client.get("/api/v1/stats/progress", headers=h).status_code for h in random_tokens] == [401] * 5 + [429]
    assert client.get("/api/v1/me", headers=other).status_code == 429  # the client waits, whichever token
    form = client.get("/login")
    page = client.post(
        "/login", data={"token": "pmo_wrong", "csrf": re.search(r'name="csrf" value="([^"]+)"', form.text)[1]}
    )
    assert page.status_code == 429 and "一時的に止めています" in page.text and page.headers["retry-after"]
