"""Prefecture review: the right municipality first for the stated reason, nobody when nobody lags."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pmo import periods
from pmo.db import session_scope, utcnow
from pmo.models import Body, ReportRevision
from pmo.reports.cellgrid import Changes
from pmo.reports.grid import DONE, IN_PROGRESS, grid_position, grid_template, load_catalog
from pmo.reports.history import current_cells
from pmo.reports.writer import NewRevision, write_revisions

NOW = periods.current()
# The period under review: the newest one already due, so that every period of the lagging window counts
# (early in a month, last month's reports are not due yet).
P = next(p for p in (periods.add_months(NOW, -1), periods.add_months(NOW, -2)) if periods.due_at(p) < utcnow())
TOTTORI, TOYAMA = "310000", "160008"
FUNAHASHI, KAMIICHI, TATEYAMA, NYUZEN = "163210", "163228", "163236", "163422"


def history(code: str, months: dict[int, list[tuple[str, str, int, dict]]], *, late: bool = False):
    """Backdated reports through the report writer (the API cannot backdate): per period a list of
    (operation, step code, status, extra fields) changes, submitted before (or after) the due time."""
    with session_scope() as s:
        catalog = load_catalog(s)
        body = s.scalar(select(Body).where(Body.code == code))
        revisions = []
        for period in sorted(months):
            revision = 1 + (
                s.scalar(
                    select(func.max(ReportRevision.revision)).where(
                        ReportRevision.body_id == body.id, ReportRevision.period == period
                    )
                )
                or 0
            )
            due = periods.due_at(period)
            at = due + timedelta(days=3) if late else due - timedelta(days=3)
            changes = {}
            for op, step, status, extra in months[period]:
                key = grid_position((catalog.op_by_code[op].id, catalog.step_by_code[step].id))
                changes[key] = (status, extra.get("planned_start"), extra.get("planned_end"), None, None)
            revisions.append(
                NewRevision(body.id, period, revision, at, None, "test", at > due, "api", Changes.of(changes))
            )
        cells = current_cells(s, body.id, grid_template(catalog, body))  # these periods come after any earlier ones
        write_revisions(s, body.id, revisions, base_grid=bytes(cells.statuses), cells=cells)


def steady(code: str, n_months: int = 6, ops=("koseki",), start_step: int = 1):
    """Reports every month, each completing one more step of each operation, all on time."""
    months = {}
    for i in range(n_months):
        period = periods.add_months(P, i - n_months + 1)
        months[period] = [(op, f"S{start_step + i:02d}", DONE, {}) for op in ops]
    history(code, months)


def municipalities(prefecture_code: str) -> list[str]:
    with session_scope(read_only=True) as s:
        return list(
            s.scalars(select(Body.code).where(Body.prefecture_code == prefecture_code, Body.kind != "prefecture"))
        )


@pytest.fixture
def toyama(token_for):
    return token_for("prefecture", TOYAMA)


def lagging(client, headers, code=TOYAMA):
    r = client.get(f"/api/v1/prefectures/{code}/lagging", params={"period": periods.fmt(P)}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["bodies"]


def test_nobody_lags_when_everyone_reports_on_time_and_keeps_to_plan(client, token_for):
    for code in municipalities("31"):
        steady(code)
    assert lagging(client, token_for("prefecture", TOTTORI), TOTTORI) == []


def test_behind_plan_comes_first(client, toyama):
    for code in municipalities("16"):
        steady(code)
    overdue = periods.add_months(P, -4)
    history(
        KAMIICHI, {P: [("jumin_kiroku", f"S{i:02d}", IN_PROGRESS, {"planned_end": overdue}) for i in range(20, 26)]}
    )
    first = lagging(client, toyama)[0]
    assert first["body"] == KAMIICHI and first["reasons"][0]["code"] == "behind_plan"
    assert first["reasons"][0]["figures"] == {"overdue_steps": 6, "max_months_overdue": 4}
    assert "6件" in first["reasons"][0]["message"]


def test_silent_municipality_comes_first(client, toyama):
    for code in municipalities("16"):
        if code != TATEYAMA:
            steady(code)
    first = lagging(client, toyama)[0]
    assert first["body"] == TATEYAMA
    reports = next(r for r in first["reasons"] if r["code"] == "reports")
    assert reports["figures"]["missing"] == 6 and reports["points"] == first["score"]


def test_stalled_municipality_comes_first(client, toyama):
    for code in municipalities("16"):
        if code != NYUZEN:
            steady(code)
    # reports every month, but nothing has changed for the last five
    history(NYUZEN, {periods.add_months(P, -i): ([("koseki", "S01", DONE, {})] if i == 5 else []) for i in range(6)})
    first = lagging(client, toyama)[0]
    assert first["body"] == NYUZEN and first["reasons"][0]["code"] == "stalled"
    assert first["reasons"][0]["figures"]["months_without_change"] == 5


def test_behind_peers_is_expressed_in_months_behind_the_national_median(client, toyama):
    with session_scope(read_only=True) as s:
        villages = list(s.scalars(select(Body.code).where(Body.kind == "village", Body.code != FUNAHASHI)))
        towns = list(s.scalars(select(Body.code).where(Body.kind == "town").order_by(Body.code).limit(300)))
    # peers are 町村 (towns and villages together, as statistics publish them): more than half of them
    # complete two steps of every operation each month
    for code in villages + towns:
        steady_all(code)
    for code in municipalities("16"):
        if code != FUNAHASHI:
            steady(code)
    history(FUNAHASHI, {periods.add_months(P, -i): [("koseki", f"S{6 - i:02d}", DONE, {})] for i in range(6)})
    first = lagging(client, toyama)[0]
    assert first["body"] == FUNAHASHI
    peers = next(r for r in first["reasons"] if r["code"] == "behind_peers")
    assert peers["figures"]["months_behind"] >= 5 and "町村の中央値" in peers["message"]


def steady_all(code: str):
    with session_scope(read_only=True) as s:
        ops = [o.code for o in load_catalog(s).operations if o.for_municipalities]
    months = {}
    for i in range(6):
        period = periods.add_months(P, i - 5)
        months[period] = [(op, f"S{2 * i + j:02d}", DONE, {}) for op in ops for j in (1, 2)]
    history(code, months)


def test_review_table_sorts_filters_and_exports(client, toyama):
    steady(KAMIICHI, n_months=2)
    history(
        FUNAHASHI,
        {periods.add_months(P, -1): [("koseki", "S01", DONE, {})], P: [("koseki", "S02", DONE, {})]},
        late=True,
    )
    r = client.get(
        f"/api/v1/prefectures/{TOYAMA}/bodies", params={"period": periods.fmt(P), "sort": "-completion"}, headers=toyama
    )
    table = r.json()
    assert r.status_code == 200 and len(table["rows"]) == 15 and table["prefecture_name"] == "富山県"
    rows = {row["body"]: row for row in table["rows"]}
    assert rows[KAMIICHI]["report_status"] == "on_time" and rows[FUNAHASHI]["report_status"] == "late"
    assert rows[TATEYAMA]["report_status"] == "missing" and rows[TATEYAMA]["last_reported"] is None
    assert rows[KAMIICHI]["change"] == pytest.approx(1 / 40 / 20)
    assert table["rows"][0]["completion_rate"] >= table["rows"][-1]["completion_rate"]
    only_late = client.get(
        f"/api/v1/prefectures/{TOYAMA}/bodies", params={"period": periods.fmt(P), "status": "late"}, headers=toyama
    )
    assert [row["body"] for row in only_late.json()["rows"]] == [FUNAHASHI]
    csv = client.get(
        f"/api/v1/prefectures/{TOYAMA}/bodies", params={"period": periods.fmt(P), "format": "csv"}, headers=toyama
    )
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").startswith("団体コード,団体名,種別,完了率(%)")
    missing = client.get(
        f"/api/v1/prefectures/{TOYAMA}/missing-reports", params={"period": periods.fmt(P)}, headers=toyama
    ).json()
    assert missing["expected"] == 15 and len(missing["missing"]) == 13
    assert {m["body"] for m in missing["missing"]} == set(municipalities("16")) - {KAMIICHI, FUNAHASHI}
    xlsx = client.get(f"/api/v1/prefectures/{TOYAMA}/missing-reports", params={"format": "xlsx"}, headers=toyama)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_own_missing_periods(client, token_for):
    history(KAMIICHI, {P: []})
    own = client.get(f"/api/v1/bodies/{KAMIICHI}/missing-reports", headers=token_for("municipality", KAMIICHI)).json()
    assert periods.fmt(P) not in own["periods"] and periods.fmt(periods.add_months(P, -1)) in own["periods"]
    assert own["periods"][0] == "2022-06"
    assert (
        client.get(
            f"/api/v1/bodies/{KAMIICHI}/missing-reports", headers=token_for("municipality", TATEYAMA)
        ).status_code
        == 403
    )


def test_review_access(client, token_for):
    for headers in (
        token_for("prefecture", TOTTORI),
        token_for("municipality", KAMIICHI),
        token_for("helpdesk"),
        token_for("viewer"),
    ):
        for path in ("bodies", "lagging", "missing-reports"):
            assert client.get(f"/api/v1/prefectures/{TOYAMA}/{path}", headers=headers).status_code == 403
    admin = token_for("admin")
    assert client.get(f"/api/v1/prefectures/{TOYAMA}/bodies", headers=admin).status_code == 200
    assert client.get(f"/api/v1/prefectures/{KAMIICHI}/lagging", headers=admin).status_code == 404
    assert client.get(f"/api/v1/prefectures/{TOYAMA}/lagging?period=2030-01", headers=admin).status_code == 422


def test_systems_register_keeps_history_and_feeds_statistics(client, token_for):
    kamiichi = token_for("municipality", KAMIICHI)
    url = f"/api/v1/bodies/{KAMIICHI}/systems/koseki"
    first = client.put(url, headers=kamiichi, json={"vendor": "A社", "planned_go_live": "2025-12"})
    assert first.status_code == 200 and first.headers["etag"] == '"v1"'
    second = client.put(
        url,
        headers={**kamiichi, "If-Match": '"v1"'},
        json={"vendor": "A社", "deferred": True, "deferral_reason": "vendor_resources", "deferral_target": "2027-03"},
    )
    assert second.status_code == 200
    detail = second.json()
    assert detail["deferred"] and detail["deferral_reason_label"] == "事業者のリソースひっ迫"
    assert [h["version"] for h in detail["history"]] == [2, 1] and detail["history"][1]["planned_go_live"] == "2025-12"
    stale = client.put(url, headers={**kamiichi, "If-Match": '"v1"'}, json={"vendor": "B社"})
    assert stale.status_code == 412
    for bad in (
        {"deferred": True},
        {"deferral_reason": "mainframe"},
        {"planned_go_live": "2025-13"},
        {"deferred": True, "deferral_reason": "cloud", "deferral_target": "2027-01"},
    ):
        assert client.put(url, headers=kamiichi, json=bad).status_code == 422, bad
    assert client.put(f"/api/v1/bodies/{KAMIICHI}/systems/nope", headers=kamiichi, json={}).status_code == 422
    assert client.put(url, headers=token_for("prefecture", TOYAMA), json={}).status_code == 403
    listing = client.get(f"/api/v1/bodies/{KAMIICHI}/systems", headers=token_for("prefecture", TOYAMA)).json()
    assert len(listing) == 20 and sum(s["registered"] for s in listing) == 1
    assert client.get(f"/api/v1/bodies/{KAMIICHI}/systems", headers=token_for("prefecture", TOTTORI)).status_code == 403
    review = client.get(f"/api/v1/prefectures/{TOYAMA}/bodies", headers=token_for("prefecture", TOYAMA)).json()
    assert next(r for r in review["rows"] if r["body"] == KAMIICHI)["deferred_systems"] == 1
    # statistics count it among a group's bodies (a prefecture's municipalities), never naming it
    viewer = token_for("viewer")
    stats = client.get("/api/v1/stats/systems", params={"by": "reason"}, headers=viewer).json()
    assert {c["reason"]: c["deferred_systems"] for c in stats["cells"]} == {
        "mainframe": 0,
        "individually_built": 0,
        "no_compliant_product": 0,
        "vendor_resources": 1,
    }
    assert {c["n_bodies"] for c in stats["cells"]} == {1788} and stats["as_of"] is not None and stats["period"] is None
    for code in ("163236", "163422", "163431"):
        client.put(
            f"/api/v1/bodies/{code}/systems/koseki",
            headers=token_for("municipality", code),
            json={"deferred": True, "deferral_reason": "vendor_resources", "deferral_target": "2028-03"},
        )
    cells = client.get("/api/v1/stats/systems", params={"by": "prefecture,reason"}, headers=viewer).json()["cells"]
    toyama = next(c for c in cells if c["prefecture"] == "16" and c["reason"] == "vendor_resources")
    assert (toyama["n_bodies"], toyama["deferred_systems"], toyama["bodies_with_deferred"], toyama["suppressed"]) == (
        15,
        4,
        4,
        None,
    )
    # the register has a history: as of a month's end, the deferrals made since do not count
    before = periods.fmt(periods.add_months(periods.current(), -1))
    old = client.get("/api/v1/stats/systems", params={"by": "none", "period": before}, headers=viewer).json()
    assert old["period"] == before and old["cells"][0]["deferred_systems"] == 0
    now = client.get("/api/v1/stats/systems", params={"by": "none"}, headers=viewer).json()
    assert now["cells"][0]["deferred_systems"] == 4
    # after the FY2025 deadline, each system's own target month is what counts: 2027-03 and 3 × 2028-03
    targets = client.get("/api/v1/stats/systems", params={"by": "target"}, headers=viewer).json()["cells"]
    soon = "within_6_months" if periods.months_between(periods.current(), 202703) < 6 else "later"
    expected = {"passed": 0, "within_6_months": 0, "later": 3, "no_target": 0}
    expected[soon] += 1
    assert {c["target"]: c["deferred_systems"] for c in targets} == expected
    by_pref = client.get("/api/v1/stats/systems", params={"by": "prefecture,target"}, headers=viewer).json()["cells"]
    assert sum(c["deferred_systems"] for c in by_pref if c["prefecture"] == "16") == 4
    passed = client.get("/api/v1/stats/systems", params={"by": "target", "period": "2028-06"}, headers=viewer)
    assert passed.status_code == 422  # a future month's register is not known
    assert client.get("/api/v1/stats/systems", params={"period": "2031-01"}, headers=viewer).status_code == 422


def test_follow_ups_reach_the_national_tier_only_when_shared(client, token_for):
    toyama, helpdesk = token_for("prefecture", TOYAMA), token_for("helpdesk")
    url = f"/api/v1/bodies/{KAMIICHI}/follow-ups"
    private = client.post(
        url, headers=toyama, json={"held_on": "2026-10-01", "channel": "phone", "learned": "体制を確認した。"}
    )
    shared = client.post(
        url,
        headers=toyama,
        json={
            "held_on": "2026-10-15",
            "channel": "visit",
            "learned": "ベンダーの要員不足。",
            "agreed_actions": "計画を再作成する。",
            "next_check_on": "2026-11-15",
            "shared_with_national": True,
            "delay_cause": "vendor_resources",
        },
    )
    assert private.status_code == 201 and shared.status_code == 201
    assert [f["id"] for f in client.get(url, headers=toyama).json()["items"]] == [
        shared.json()["id"],
        private.json()["id"],
    ]
    assert [f["id"] for f in client.get("/api/v1/follow-ups", headers=helpdesk).json()["items"]] == [
        shared.json()["id"]
    ]
    assert client.get(f"/api/v1/follow-ups/{private.json()['id']}", headers=helpdesk).status_code == 404
    assert (
        client.get(f"/api/v1/follow-ups/{shared.json()['id']}", headers=helpdesk).json()["delay_cause_label"]
        == "事業者のリソース不足"
    )
    for outsider in (token_for("prefecture", TOTTORI), token_for("municipality", KAMIICHI), token_for("viewer")):
        assert client.get(f"/api/v1/follow-ups/{shared.json()['id']}", headers=outsider).status_code == 404
        assert client.get("/api/v1/follow-ups", headers=outsider).json()["items"] == []
    assert (
        client.post(
            url,
            headers=token_for("prefecture", TOTTORI),
            json={"held_on": "2026-10-01", "channel": "phone", "learned": "x"},
        ).status_code
        == 403
    )
    for bad in (
        {"held_on": "2026-10-01", "channel": "fax", "learned": "x"},
        {"held_on": "2026-10-01", "channel": "phone", "learned": ""},
        {"held_on": "2026-10-01", "channel": "phone", "learned": "x", "shared_with_national": True},
        {"held_on": "2026-10-01", "channel": "phone", "learned": "x", "next_check_on": "2026-09-01"},
        {"held_on": "2099-01-01", "channel": "phone", "learned": "x"},
    ):
        assert client.post(url, headers=toyama, json=bad).status_code == 422, bad


def test_many_open_inquiries_count(client, toyama, token_for):
    for code in municipalities("16"):
        steady(code)
    kamiichi = token_for("municipality", KAMIICHI)
    for i in range(4):
        r = client.post(
            "/api/v1/inquiries",
            headers=kamiichi,
            json={"title": f"質問{i}", "question": "移行計画の作り方を教えてください。", "category": "other"},
        )
        assert r.status_code == 201, r.text
    first = lagging(client, toyama)[0]
    assert first["body"] == KAMIICHI
    assert first["reasons"][0]["code"] == "open_inquiries" and first["reasons"][0]["figures"] == {"open_inquiries": 4}


def test_the_lagging_list_names_the_few_to_call_first_and_shows_everyone_on_request(client, token_for):
    """Calibrated (issue 16): by default only the top PMO_LAG_SHARE of the prefecture's municipalities by score
    (ties included, never below PMO_LAG_MIN_SCORE), each with the prefecture's last follow-up; all=true lists
    every municipality with its score and whether it is to be called first."""
    from pmo.demo.reports import generate

    with session_scope() as session:
        generate(session, only=municipalities("16"))
    toyama = token_for("prefecture", TOYAMA)
    url = f"/api/v1/prefectures/{TOYAMA}/lagging"
    first = client.get(url, params={"period": periods.fmt(P)}, headers=toyama).json()
    everyone = client.get(url, params={"period": periods.fmt(P), "all": "true"}, headers=toyama).json()
    cut = first["thresholds"]["cut_score"]
    assert first["municipalities"] == 15 and len(everyone["bodies"]) == 15
    assert [b["score"] for b in everyone["bodies"]] == sorted((b["score"] for b in everyone["bodies"]), reverse=True)
    called = [b["body"] for b in everyone["bodies"] if b["call_first"]]
    assert called == [b["body"] for b in first["bodies"]] and len(called) == first["first"]
    assert 1 <= len(called) <= 3 or all(b["score"] == cut for b in first["bodies"][3:])  # ceil(0.15 × 15) = 3
    assert first["scored"] > len(called)  # the demo's Toyama has more bodies with reasons than are called first
    assert all(b["last_follow_up"] is None for b in first["bodies"])
    target = first["bodies"][0]["body"]
    follow_up = {"held_on": str(utcnow().date()), "channel": "phone", "learned": "事業者と日程を再調整中。"}
    assert client.post(f"/api/v1/bodies/{target}/follow-ups", headers=toyama, json=follow_up).status_code == 201
    again = client.get(url, params={"period": periods.fmt(P)}, headers=toyama).json()
    assert again["bodies"][0]["last_follow_up"]["channel"] == "phone"


def test_the_prefecture_page_downloads_its_tables_headed_as_on_the_page(client, token_for):
    from tests.test_dashboard import sign_in

    steady(KAMIICHI)
    sign_in(client, token_for("prefecture", TOYAMA))
    table = client.get(f"/prefectures/{TOYAMA}/export", params={"period": periods.fmt(P), "format": "csv"})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    header = table.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:4] == ["団体コード", "団体名", "種別", "完了率(%)"] and "戸籍 完了率(%)" in header
    assert not [h for h in header if h.isascii()]  # operation names, not codes
    listing = client.get(f"/prefectures/{TOYAMA}/export", params={"table": "missing", "format": "xlsx"})
    assert listing.status_code == 200 and listing.content[:2] == b"PK"
    sign_in(client, token_for("municipality", KAMIICHI))
    assert client.get(f"/prefectures/{TOYAMA}/export", params={"format": "csv"}).status_code == 403


def test_a_deferred_system_is_at_risk_near_its_target_until_its_operation_is_nearly_done(client, token_for):
    """stats/systems by track: late once its own target month has passed; at risk when the target is within 6
    months and the body has completed under 80 % of that operation's steps; on track otherwise."""
    kamiichi = token_for("municipality", KAMIICHI)
    near = periods.fmt(periods.add_months(NOW, 3))
    r = client.put(
        f"/api/v1/bodies/{KAMIICHI}/systems/koseki",
        headers=kamiichi,
        json={"deferred": True, "deferral_reason": "vendor_resources", "deferral_target": near},
    )
    assert r.status_code == 200, r.text
    viewer = token_for("viewer")

    def tracks() -> dict[str, int]:
        cells = client.get("/api/v1/stats/systems", params={"by": "prefecture,track"}, headers=viewer).json()["cells"]
        return {c["track"]: c["deferred_systems"] for c in cells if c["prefecture"] == "16"}

    assert tracks() == {"on_track": 0, "at_risk": 1, "late": 0, "no_target": 0}  # nothing reported yet
    from tests.test_dashboard import sign_in

    sign_in(client, token_for("prefecture", TOYAMA))
    page = client.get(f"/prefectures/{TOYAMA}").text
    outlook = page.split('id="deferred-outlook"')[1].split("</section>")[0]
    assert "特定移行支援システムの移行見込み（1件）" in outlook and "要注意" in outlook and "上市町" in outlook
    assert "要注意 1 件" in client.get("/").text  # the national page's post-deadline figure
    being_reported = periods.fmt(periods.add_months(NOW, -1))
    cells = [{"operation": "koseki", "step": f"S{i:02d}", "status": "done"} for i in range(1, 33)]  # 32 of 40
    r = client.put(f"/api/v1/bodies/{KAMIICHI}/reports/{being_reported}", headers=kamiichi, json={"cells": cells})
    assert r.status_code == 200, r.text
    assert tracks() == {"on_track": 1, "at_risk": 0, "late": 0, "no_target": 0}  # 80 % done: on track
    later = periods.fmt(periods.add_months(NOW, 12))
    assert (
        client.put(
            f"/api/v1/bodies/{KAMIICHI}/systems/jumin_kiroku",
            headers=kamiichi,
            json={"deferred": True, "deferral_reason": "mainframe", "deferral_target": later},
        ).status_code
        == 200
    )
    assert tracks() == {"on_track": 2, "at_risk": 0, "late": 0, "no_target": 0}  # far off: on track
