"""Monthly reports through HTTP: submit, history, deadlines, safety, validation, access, progress."""

import threading

import pytest
from fastapi.testclient import TestClient

from pmo import periods

CHIYODA, CHUO, SAPPORO, TOKYO, HOKKAIDO = "131016", "131024", "011002", "130001", "010006"
NOW = periods.current()
THIS = periods.fmt(NOW)
LAST = periods.fmt(periods.add_months(NOW, -1))
TWO_AGO = periods.fmt(periods.add_months(NOW, -2))
NEXT = periods.fmt(periods.add_months(NOW, 1))


def url(code: str, period: str | None = None, suffix: str = "") -> str:
    base = f"/api/v1/bodies/{code}/reports"
    return f"{base}/{period}{suffix}" if period else base


def cell(grid: dict, operation: str, step: str) -> dict:
    return next(c for c in grid["cells"] if c["operation"] == operation and c["step"] == step)


@pytest.fixture
def chiyoda(token_for):
    return token_for("municipality", CHIYODA)


def test_submit_subset_keeps_other_cells_and_reads_whole_grid(client, chiyoda):
    r = client.put(
        url(CHIYODA, TWO_AGO),
        headers=chiyoda,
        json={
            "cells": [
                {"operation": "jumin_kiroku", "step": "S01", "status": "done", "actual_end": TWO_AGO},
                {
                    "operation": "jumin_kiroku",
                    "step": "S02",
                    "status": "in_progress",
                    "planned_start": TWO_AGO,
                    "planned_end": THIS,
                    "note": "庁内調整中",
                },
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 1 and r.json()["changed"] == 2
    r = client.put(
        url(CHIYODA, LAST),
        headers=chiyoda,
        json={
            "cells": [
                {"operation": "jumin_kiroku", "step": "S02", "status": "done"},
            ]
        },
    )
    assert r.json()["changed"] == 1
    grid = client.get(url(CHIYODA, LAST), headers=chiyoda).json()
    assert len(grid["cells"]) == 20 * 40
    assert cell(grid, "jumin_kiroku", "S01")["status"] == "done"
    assert cell(grid, "jumin_kiroku", "S01")["actual_end"] == TWO_AGO
    s02 = cell(grid, "jumin_kiroku", "S02")
    # omitted optional fields keep their last value
    assert (s02["status"], s02["planned_start"], s02["planned_end"], s02["note"]) == (
        "done",
        TWO_AGO,
        THIS,
        "庁内調整中",
    )
    assert s02["updated_period"] == LAST
    assert cell(grid, "koseki", "S40") == {
        "operation": "koseki",
        "step": "S40",
        "status": "not_started",
        "planned_start": None,
        "planned_end": None,
        "actual_end": None,
        "note": None,
        "updated_period": None,
    }
    assert grid["reported"] is True and grid["revision"] == 1 and grid["body_name"] == "千代田区"
    # reading the earlier period "as of" it
    earlier = client.get(url(CHIYODA, TWO_AGO), headers=chiyoda).json()
    assert cell(earlier, "jumin_kiroku", "S02")["status"] == "in_progress"


def test_explicit_null_clears_a_field(client, chiyoda):
    client.put(
        url(CHIYODA, LAST),
        headers=chiyoda,
        json={
            "cells": [
                {"operation": "koseki", "step": "S03", "status": "in_progress", "note": "メモ", "planned_end": THIS}
            ]
        },
    )
    client.put(
        url(CHIYODA, THIS),
        headers=chiyoda,
        json={"cells": [{"operation": "koseki", "step": "S03", "status": "in_progress", "note": None}]},
    )
    c = cell(client.get(url(CHIYODA, THIS), headers=chiyoda).json(), "koseki", "S03")
    assert c["note"] is None and c["planned_end"] == THIS


def test_empty_report_is_a_valid_no_change_submission(client, chiyoda):
    r = client.put(url(CHIYODA, LAST), headers=chiyoda)
    assert r.status_code == 200 and r.json()["changed"] == 0
    r = client.put(url(CHIYODA, LAST), headers=chiyoda, json={"cells": []})
    assert r.json()["revision"] == 2
    listing = client.get(url(CHIYODA), headers=chiyoda).json()
    assert [p["period"] for p in listing] == [LAST]
    assert [rev["revision"] for rev in listing[0]["revisions"]] == [1, 2]


def test_correction_of_earlier_period_shows_later_only_where_not_set(client, chiyoda):
    def ops(*cells):
        return {"cells": [{"operation": "kokuho", "step": s, "status": st} for s, st in cells]}

    client.put(url(CHIYODA, TWO_AGO), headers=chiyoda, json=ops(("S01", "in_progress"), ("S02", "in_progress")))
    client.put(url(CHIYODA, LAST), headers=chiyoda, json=ops(("S01", "done")))
    # correction of TWO_AGO: S01 and S02 become not_applicable
    r = client.put(
        url(CHIYODA, TWO_AGO), headers=chiyoda, json=ops(("S01", "not_applicable"), ("S02", "not_applicable"))
    )
    assert r.json()["revision"] == 2
    later = client.get(url(CHIYODA, LAST), headers=chiyoda).json()
    assert cell(later, "kokuho", "S01")["status"] == "done"  # LAST set it itself
    assert cell(later, "kokuho", "S02")["status"] == "not_applicable"  # carried from the correction
    now = client.get(url(CHIYODA, THIS), headers=chiyoda).json()
    assert cell(now, "kokuho", "S01")["status"] == "done"
    assert cell(now, "kokuho", "S02")["status"] == "not_applicable"
    revisions = client.get(url(CHIYODA, TWO_AGO, "/revisions"), headers=chiyoda).json()
    assert [r["revision"] for r in revisions] == [1, 2]
    change = next(c for c in revisions[1]["changes"] if c["step"] == "S01")
    assert change["before"]["status"] == "in_progress" and change["after"]["status"] == "not_applicable"
    first = next(c for c in revisions[0]["changes"] if c["step"] == "S02")
    assert first["before"]["status"] == "not_started" and first["after"]["status"] == "in_progress"


def test_correction_carries_every_field_to_the_current_grid(client, chiyoda):
    def put(period, *cells):
        return client.put(url(CHIYODA, period), headers=chiyoda, json={"cells": list(cells)})

    put(TWO_AGO, {"operation": "shugaku", "step": "S07", "status": "in_progress", "planned_end": LAST})
    put(THIS, {"operation": "shugaku", "step": "S08", "status": "done", "actual_end": THIS})
    before = client.get(url(CHIYODA, THIS), headers=chiyoda).json()
    r = put(
        TWO_AGO,
        {
            "operation": "shugaku",
            "step": "S07",
            "status": "in_progress",
            "planned_start": TWO_AGO,
            "note": "訂正: 着手月を追記",
        },
    )
    assert r.status_code == 200 and r.json()["changed"] == 1
    after = client.get(url(CHIYODA, THIS), headers=chiyoda).json()
    assert cell(after, "shugaku", "S07") == {
        "operation": "shugaku",
        "step": "S07",
        "status": "in_progress",
        "planned_start": TWO_AGO,
        "planned_end": LAST,
        "actual_end": None,
        "note": "訂正: 着手月を追記",
        "updated_period": TWO_AGO,
    }
    assert cell(after, "shugaku", "S08") == cell(before, "shugaku", "S08")
    assert after["etag"] != before["etag"]
    # every other cell is untouched, and the last month (read from history) agrees with the current grid
    changed = [c for c, b in zip(after["cells"], before["cells"], strict=False) if c != b]
    assert [(c["operation"], c["step"]) for c in changed] == [("shugaku", "S07")]
    last = client.get(url(CHIYODA, LAST), headers=chiyoda).json()
    assert cell(last, "shugaku", "S07") == cell(after, "shugaku", "S07")
    assert cell(last, "shugaku", "S08")["status"] == "not_started"


def test_deadline_flags_late_reports_and_future_is_refused(client, chiyoda):
    on_time = client.put(url(CHIYODA, THIS), headers=chiyoda).json()
    assert on_time["late"] is False
    late = client.put(url(CHIYODA, periods.fmt(periods.add_months(NOW, -3))), headers=chiyoda).json()
    assert late["late"] is True
    r = client.put(url(CHIYODA, NEXT), headers=chiyoda)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "period"]
    for bad in ("2025-13", "2025-4", "abcd-ef", "2020-03"):
        assert client.put(url(CHIYODA, bad), headers=chiyoda).status_code == 422, bad
    assert client.get(url(CHIYODA), headers=chiyoda).json()[0]["period"] == THIS


def test_idempotency_key_applies_once_and_replays_the_answer(client, chiyoda):
    body = {"cells": [{"operation": "koseki", "step": "S01", "status": "done"}]}
    headers = {**chiyoda, "Idempotency-Key": "retry-1"}
    first = client.put(url(CHIYODA, LAST), headers=headers, json=body)
    again = client.put(url(CHIYODA, LAST), headers=headers, json=body)
    assert again.status_code == 200 and again.json() == first.json()
    assert len(client.get(url(CHIYODA), headers=chiyoda).json()[0]["revisions"]) == 1
    other = client.put(url(CHIYODA, LAST), headers=headers, json={"cells": []})
    assert other.status_code == 409 and other.json()["error"] == "conflict"


def test_if_match_refuses_to_overwrite_an_unseen_revision(client, chiyoda):
    get = client.get(url(CHIYODA, LAST), headers=chiyoda)
    etag = get.headers["etag"]
    assert client.get(url(CHIYODA, LAST), headers={**chiyoda, "If-None-Match": etag}).status_code == 304
    ok = client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": etag}, json={"cells": []})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = client.put(
        url(CHIYODA, LAST),
        headers={**chiyoda, "If-Match": etag},
        json={"cells": [{"operation": "koseki", "step": "S01", "status": "done"}]},
    )
    assert stale.status_code == 412 and stale.json()["error"] == "precondition_failed"
    grid = client.get(url(CHIYODA, LAST), headers=chiyoda).json()
    assert cell(grid, "koseki", "S01")["status"] == "not_started"
    # a correction of an earlier period changes the later grid's ETag too
    before = client.get(url(CHIYODA, THIS), headers=chiyoda).headers["etag"]
    client.put(url(CHIYODA, TWO_AGO), headers=chiyoda)
    assert client.get(url(CHIYODA, THIS), headers=chiyoda).headers["etag"] != before


def test_if_match_compares_strongly_and_star_needs_a_report(client, chiyoda):
    """RFC 9110 §13.1.1: a weak tag never satisfies If-Match, and '*' only when a report exists. Both
    passed before (a W/ prefix was stripped; '*' skipped the check)."""
    report = {"cells": [{"operation": "koseki", "step": "S01", "status": "done"}]}
    star = client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": "*"}, json=report)
    assert star.status_code == 412 and star.headers["etag"] == '"r0"', star.text
    first = client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": '"r0"'}, json=report)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    weak = client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": f"W/{etag}"}, json={"cells": []})
    assert weak.status_code == 412 and weak.headers["etag"] == etag
    listed = client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": f'"r999", {etag}'}, json={"cells": []})
    assert listed.status_code == 200
    assert client.put(url(CHIYODA, LAST), headers={**chiyoda, "If-Match": "*"}, json={"cells": []}).status_code == 200
    # If-None-Match compares weakly: a cache's W/ copy of the grid is still current
    now = client.get(url(CHIYODA, LAST), headers=chiyoda)
    assert now.headers["cache-control"] == "private, no-cache"
    weak_get = client.get(url(CHIYODA, LAST), headers={**chiyoda, "If-None-Match": "W/" + now.headers["etag"]})
    assert weak_get.status_code == 304 and weak_get.headers["cache-control"] == "private, no-cache"
    # the systems register, through the same module
    system = f"/api/v1/bodies/{CHIYODA}/systems/koseki"
    assert client.put(system, headers={**chiyoda, "If-Match": "*"}, json={"vendor": "A社"}).status_code == 412
    made = client.put(system, headers={**chiyoda, "If-Match": '"v0"'}, json={"vendor": "A社"})
    assert made.status_code == 200 and made.headers["etag"] == '"v1"'
    assert client.put(system, headers={**chiyoda, "If-Match": 'W/"v1"'}, json={"vendor": "B社"}).status_code == 412


def test_every_row_level_read_says_how_it_may_be_cached(client, chiyoda):
    """Row-level GETs carried no Cache-Control, so a shared cache could keep a body's rows."""
    for path in (
        url(CHIYODA),
        f"/api/v1/bodies/{CHIYODA}/systems",
        f"/api/v1/bodies/{CHIYODA}/systems/koseki",
        f"/api/v1/bodies/{CHIYODA}/progress",
        "/api/v1/inquiries",
        "/api/v1/me",
    ):
        r = client.get(path, headers=chiyoda)
        assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache", (path, r.status_code)


BAD_CELLS = [
    ({"operation": "nope", "step": "S01", "status": "done"}, "operation"),
    ({"operation": "koseki", "step": "S41", "status": "done"}, "step"),
    ({"operation": "koseki", "step": "S01", "status": "finished"}, "status"),
    ({"operation": "koseki", "step": "S01", "status": "done", "planned_start": "2025/04"}, "planned_start"),
    (
        {"operation": "koseki", "step": "S01", "status": "done", "planned_start": "2025-06", "planned_end": "2025-04"},
        "planned_end",
    ),
    ({"operation": "koseki", "step": "S01", "status": "in_progress", "actual_end": "2025-04"}, "actual_end"),
    ({"operation": "koseki", "step": "S01", "status": "done", "actual_end": NEXT}, "actual_end"),
    ({"operation": "koseki", "step": "S01", "status": "done", "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_CELLS)
def test_invalid_cell_is_refused_naming_it_and_nothing_is_stored(client, chiyoda, bad, field):
    good = {"operation": "jumin_kiroku", "step": "S01", "status": "done"}
    r = client.put(url(CHIYODA, THIS), headers=chiyoda, json={"cells": [good, bad]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert any(d["loc"][:3] == ["body", "cells", 1] and d["loc"][-1] == field for d in body["detail"]), body
    assert all(d["msg"] for d in body["detail"])
    assert client.get(url(CHIYODA), headers=chiyoda).json() == []


def test_operation_a_prefecture_does_not_report_and_duplicates_are_refused(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    r = client.put(
        url(TOKYO, THIS),
        headers=tokyo,
        json={
            "cells": [
                {"operation": "seikatsu_hogo", "step": "S01", "status": "done"},
                {"operation": "koseki", "step": "S01", "status": "done"},
                {"operation": "seikatsu_hogo", "step": "S01", "status": "in_progress"},
            ]
        },
    )
    assert r.status_code == 422
    locs = [d["loc"] for d in r.json()["detail"]]
    assert ["body", "cells", 1, "operation"] in locs and ["body", "cells", 2] in locs
    grid = client.get(url(TOKYO, THIS), headers=tokyo).json()
    assert len(grid["cells"]) == 2 * 40 and grid["reported"] is False
    ok = client.put(
        url(TOKYO, THIS),
        headers=tokyo,
        json={"cells": [{"operation": "jido_fuyo_teate", "step": "S01", "status": "done"}]},
    )
    assert ok.status_code == 200


def test_oversized_request_is_413(client, chiyoda):
    cells = [{"operation": "koseki", "step": "S01", "status": "done", "note": "x" * 1000}] * 2100
    r = client.put(url(CHIYODA, THIS), headers=chiyoda, json={"cells": cells})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_out_of_order_completion_is_stored_with_a_warning(client, chiyoda):
    r = client.put(
        url(CHIYODA, THIS),
        headers=chiyoda,
        json={
            "cells": [
                {"operation": "koseki", "step": "S01", "status": "done"},
                {"operation": "koseki", "step": "S17", "status": "done"},
            ]
        },
    )
    assert r.status_code == 200
    [warning] = r.json()["warnings"]
    assert (warning["code"], warning["operation"], warning["step"]) == ("out_of_order", "koseki", "S17")
    assert "S02" in warning["msg"]
    progress = client.get(f"/api/v1/bodies/{CHIYODA}/progress?period={THIS}", headers=chiyoda).json()
    koseki = next(o for o in progress["operations"] if o["operation"] == "koseki")
    assert koseki["out_of_order"] == 1 and koseki["completed_through"] == "S01"


def test_progress_uses_mics_formulas(client, chiyoda):
    cells = [{"operation": "jumin_kiroku", "step": f"S{i:02d}", "status": "done"} for i in range(1, 11)]
    cells += [{"operation": "jumin_kiroku", "step": f"S{i:02d}", "status": "not_applicable"} for i in range(11, 16)]
    cells += [{"operation": "jumin_kiroku", "step": f"S{i:02d}", "status": "in_progress"} for i in range(16, 20)]
    client.put(url(CHIYODA, LAST), headers=chiyoda, json={"cells": cells})
    p = client.get(f"/api/v1/bodies/{CHIYODA}/progress", params={"period": LAST}, headers=chiyoda).json()
    op = next(o for o in p["operations"] if o["operation"] == "jumin_kiroku")
    assert (op["done"], op["not_applicable"], op["in_progress"], op["not_started"]) == (10, 5, 4, 21)
    assert op["completion_rate"] == 15 / 40 and op["in_progress_rate"] == 4 / 40 and op["not_started_rate"] == 21 / 40
    assert op["completed_through"] == "S15"
    assert p["completion_rate"] == pytest.approx(15 / 40 / 20)
    assert p["completion_rate"] + p["in_progress_rate"] + p["not_started_rate"] == pytest.approx(1)
    assert p["reported"] is True
    assert client.get(f"/api/v1/bodies/{CHIYODA}/progress?period=2025-99", headers=chiyoda).status_code == 422


def test_who_may_read_and_write(client, token_for, chiyoda):
    tokyo, hokkaido = token_for("prefecture", TOKYO), token_for("prefecture", HOKKAIDO)
    client.put(url(CHIYODA, THIS), headers=chiyoda)
    assert client.get(url(CHIYODA, THIS), headers=tokyo).status_code == 200  # its municipality
    assert client.get(url(CHIYODA, THIS), headers=token_for("admin")).status_code == 200
    for outsider in (hokkaido, token_for("municipality", CHUO), token_for("viewer"), token_for("helpdesk")):
        for path in (
            url(CHIYODA, THIS),
            url(CHIYODA),
            url(CHIYODA, THIS, "/revisions"),
            f"/api/v1/bodies/{CHIYODA}/progress",
        ):
            r = client.get(path, headers=outsider)
            assert r.status_code == 403 and r.json()["error"] == "forbidden", path
    # only the body itself writes its report: not its prefecture, not admin
    for writer in (tokyo, token_for("admin"), token_for("municipality", CHUO)):
        assert client.put(url(CHIYODA, THIS), headers=writer).status_code == 403
    assert client.put(url(TOKYO, THIS), headers=tokyo).status_code == 200
    assert client.get(url(TOKYO, THIS), headers=chiyoda).status_code == 403  # a municipality never reads its prefecture
    assert client.get(url(CHIYODA, THIS)).status_code == 401
    assert client.get(url("999997", THIS), headers=chiyoda).status_code == 404


def test_concurrent_submissions_for_one_body_lose_nothing(database_url, token_for):
    from pmo.app import create_app

    headers = token_for("municipality", CHIYODA)
    app = create_app()
    results: list[int] = []

    def submit(step: int):
        with TestClient(app) as c:
            r = c.put(
                url(CHIYODA, THIS),
                headers=headers,
                json={"cells": [{"operation": "kaigo_hoken", "step": f"S{step:02d}", "status": "done"}]},
            )
            results.append(r.status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(1, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 12
    with TestClient(app) as c:
        revisions = c.get(url(CHIYODA), headers=headers).json()[0]["revisions"]
        assert sorted(r["revision"] for r in revisions) == list(range(1, 13))
        grid = c.get(url(CHIYODA, THIS), headers=headers).json()
    assert all(cell(grid, "kaigo_hoken", f"S{i:02d}")["status"] == "done" for i in range(1, 13))


def test_every_submission_is_audited(client, chiyoda, token_for):
    client.put(
        url(CHIYODA, THIS), headers=chiyoda, json={"cells": [{"operation": "koseki", "step": "S01", "status": "done"}]}
    )
    entries = client.get("/api/v1/audit", headers=token_for("admin")).json()["items"]
    entry = next(e for e in entries if e["action"] == "report.submit")
    assert entry["target"] == f"body:{CHIYODA}/period:{THIS}" and entry["detail"]["changed"] == 1


def test_period_summaries_match_the_grid_after_corrections(client, chiyoda):
    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.models import BodyPeriod
    from pmo.reports.grid import STATUS_CODES, decode_grid, grid_position, load_catalog

    def put(period, *cells):
        return client.put(
            url(CHIYODA, period),
            headers=chiyoda,
            json={"cells": [{"operation": "kokuho", "step": s, "status": st} for s, st in cells]},
        )

    put(TWO_AGO, ("S01", "in_progress"), ("S02", "done"))
    put(LAST, ("S01", "done"))
    put(THIS, ("S03", "in_progress"))
    put(TWO_AGO, ("S02", "not_applicable"), ("S04", "done"))  # correction seen by the later periods
    put(LAST, ("S05", "done"))  # a second revision of LAST
    with session_scope(read_only=True) as s:
        catalog = load_catalog(s)
        rows = {r.period: r for r in s.scalars(select(BodyPeriod).where(BodyPeriod.body_id == int(CHIYODA)))}
    assert {periods.fmt(p): r.revisions for p, r in rows.items()} == {TWO_AGO: 2, LAST: 2, THIS: 1}
    for period, row in rows.items():
        grid = client.get(url(CHIYODA, periods.fmt(period)), headers=chiyoda).json()
        raw = decode_grid(row.statuses)
        for c in grid["cells"]:
            key = (catalog.op_by_code[c["operation"]].id, catalog.step_by_code[c["step"]].id)
            assert raw[grid_position(key)] == STATUS_CODES[c["status"]], (period, c)


def test_malformed_or_deeply_nested_json_is_a_clear_4xx(client, chiyoda):
    headers = {**chiyoda, "Content-Type": "application/json"}
    deep = '{"cells": ' + "[" * 50000 + "]" * 50000 + "}"
    for body in (deep, "{bad json", '{"cells": "x"}', "[]"):
        r = client.put(url(CHIYODA, THIS), headers=headers, content=body)
        assert 400 <= r.status_code < 500 and r.json()["error"] in ("bad_request", "validation_error"), body[:20]
        assert r.json()["message"]
    assert client.get(url(CHIYODA), headers=chiyoda).json() == []
