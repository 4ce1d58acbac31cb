"""Adviser support: request → assignment → visits → outcome, seen by the body, its prefecture and the
national tier only; and the new vendor and ministry accounts."""

from datetime import UTC, date, datetime, timedelta

import pytest

from pmo.db import session_scope

KAMIICHI, TOYAMA, CHIYODA, TOKYO = "163228", "160008", "131016", "130001"


@pytest.fixture
def parties(token_for):
    return {
        "body": token_for("municipality", KAMIICHI),
        "prefecture": token_for("prefecture", TOYAMA),
        "helpdesk": token_for("helpdesk"),
        "admin": token_for("admin"),
        "other_body": token_for("municipality", CHIYODA),
        "other_prefecture": token_for("prefecture", TOKYO),
        "viewer": token_for("viewer"),
    }


def test_adviser_request_from_follow_up_to_outcome(client, parties):
    follow_up = client.post(
        f"/api/v1/bodies/{KAMIICHI}/follow-ups",
        headers=parties["prefecture"],
        json={"held_on": "2026-10-01", "channel": "visit", "learned": "移行計画が止まっている。"},
    ).json()
    r = client.post(
        f"/api/v1/bodies/{KAMIICHI}/adviser-requests",
        headers=parties["prefecture"],
        json={"topic": "移行計画の立て直し", "operations": ["koseki", "kokuho"], "follow_up_id": follow_up["id"]},
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert (
        req["state"] == "requested"
        and req["requester_role"] == "prefecture"
        and req["operations"] == ["kokuho", "koseki"]
    )
    rid = req["id"]
    # who sees it
    for who in ("body", "prefecture", "helpdesk", "admin"):
        assert client.get(f"/api/v1/adviser-requests/{rid}", headers=parties[who]).status_code == 200, who
        assert [x["id"] for x in client.get("/api/v1/adviser-requests", headers=parties[who]).json()["items"]] == [
            rid
        ], who
    for who in ("other_body", "other_prefecture", "viewer"):
        assert client.get(f"/api/v1/adviser-requests/{rid}", headers=parties[who]).status_code == 404, who
        assert client.get("/api/v1/adviser-requests", headers=parties[who]).json()["items"] == [], who
    # the state machine
    assert (
        client.post(
            f"/api/v1/adviser-requests/{rid}/visits",
            headers=parties["helpdesk"],
            json={"visited_on": "2026-11-01", "mode": "onsite", "summary": "x"},
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/adviser-requests/{rid}/assign", headers=parties["prefecture"], json={"adviser": "山田"}
        ).status_code
        == 403
    )
    assigned = client.post(
        f"/api/v1/adviser-requests/{rid}/assign", headers=parties["helpdesk"], json={"adviser": "標準化アドバイザー A"}
    )
    assert assigned.status_code == 200 and assigned.json()["state"] == "assigned"
    for day in ("2026-11-05", "2026-11-19"):
        visit = client.post(
            f"/api/v1/adviser-requests/{rid}/visits",
            headers=parties["helpdesk"],
            json={"visited_on": day, "mode": "onsite", "summary": "ベンダーとの協議に同席し、移行計画の再作成を助言。"},
        )
        assert visit.status_code == 200 and visit.json()["state"] == "visiting"
    assert client.post(f"/api/v1/adviser-requests/{rid}/cancel", headers=parties["body"], json={}).status_code == 409
    done = client.post(
        f"/api/v1/adviser-requests/{rid}/complete",
        headers=parties["helpdesk"],
        json={"outcome": "改訂した移行計画を庁内合意。"},
    )
    assert done.status_code == 200 and done.json()["state"] == "completed" and len(done.json()["visits"]) == 2
    seen = client.get(f"/api/v1/bodies/{KAMIICHI}/adviser-requests", headers=parties["body"]).json()["items"]
    assert seen[0]["outcome"] == "改訂した移行計画を庁内合意。" and seen[0]["visits"][0]["visited_on"] == "2026-11-05"


def test_adviser_requests_who_may_ask_and_statistics(client, parties, token_for):
    assert (
        client.post(
            f"/api/v1/bodies/{KAMIICHI}/adviser-requests", headers=parties["other_prefecture"], json={"topic": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/bodies/{KAMIICHI}/adviser-requests", headers=parties["helpdesk"], json={"topic": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/bodies/{KAMIICHI}/adviser-requests",
            headers=parties["body"],
            json={"topic": "x", "operations": ["nope"]},
        ).status_code
        == 422
    )
    own = client.post(
        f"/api/v1/bodies/{KAMIICHI}/adviser-requests", headers=parties["body"], json={"topic": "データ移行の進め方"}
    )
    assert own.status_code == 201
    cancelled = client.post(f"/api/v1/adviser-requests/{own.json()['id']}/cancel", headers=parties["body"], json={})
    assert cancelled.json()["state"] == "cancelled"
    for code in ("163236", "163422", "163431", "162019", "312011", "312029", "312037"):
        client.post(
            f"/api/v1/bodies/{code}/adviser-requests", headers=token_for("municipality", code), json={"topic": "相談"}
        )
    client.post(f"/api/v1/bodies/{CHIYODA}/adviser-requests", headers=parties["other_body"], json={"topic": "相談"})
    stats = client.get("/api/v1/stats/advisers", params={"by": "prefecture"}, headers=parties["viewer"]).json()
    cells = {c["prefecture"]: c for c in stats["cells"]}
    # a prefecture's figures are its municipalities' (every group a union of atoms of more than k bodies)
    assert {
        p: (cells[p]["n_bodies"], cells[p]["requests"], cells[p]["bodies"], cells[p]["suppressed"])
        for p in ("16", "13", "31")
    } == {"16": (15, 4, 4, None), "13": (62, 1, 1, None), "31": (19, 3, 3, None)}
    national = client.get("/api/v1/stats/advisers", params={"by": "none"}, headers=parties["viewer"]).json()["cells"]
    assert national[0]["requests"] == 8


def test_vendor_and_ministry_accounts_are_bound_to_an_organisation(database_url):
    from pmo.accounts import service
    from pmo.errors import InvalidInput

    with session_scope() as s:
        vendor = service.create_account(
            s,
            "v1",
            "vendor",
            None,
            actor="t",
            organization="みらい情報システム株式会社",
            operations=["koseki", "jumin_kiroku"],
        )
        assert vendor.operations == ["jumin_kiroku", "koseki"]
        assert (
            service.create_account(s, "m1", "ministry", None, actor="t", organization="総務省").organization == "総務省"
        )
        for role, org, ops, body in (
            ("vendor", None, None, None),
            ("ministry", "財務省", None, None),
            ("vendor", "A社", ["nope"], None),
            ("ministry", "総務省", ["koseki"], None),
            ("viewer", "A社", None, None),
            ("vendor", "A社", None, "131016"),
        ):
            with pytest.raises(InvalidInput):
                service.create_account(s, f"x-{role}-{org}", role, body, actor="t", organization=org, operations=ops)


def test_future_dates_are_judged_in_the_configured_time_zone(client, parties, monkeypatch):
    """ "Not in the future" meant the server's own date: a server in UTC refused a visit recorded in Japan
    before 09:00 JST. Whatever the hour, one of UTC+14 / UTC−12 has another date than the server; set it."""
    from pmo.config import get_settings

    server_today = date.today()  # noqa: DTZ011 — the server's own date is the point of this test
    dates = {
        zone: (datetime.now(UTC) + timedelta(hours=hours)).date()
        for zone, hours in (("Etc/GMT-14", 14), ("Etc/GMT+12", -12))
    }
    zone, there = next((zone, day) for zone, day in dates.items() if day != server_today)
    monkeypatch.setenv("PMO_TIMEZONE", zone)
    get_settings.cache_clear()
    try:
        follow_up = {"channel": "phone", "learned": "体制を確認した。"}
        url = f"/api/v1/bodies/{KAMIICHI}/follow-ups"
        ahead = client.post(
            url, headers=parties["prefecture"], json={**follow_up, "held_on": str(there + timedelta(1))}
        )
        assert ahead.status_code == 422, ahead.text
        assert (
            client.post(url, headers=parties["prefecture"], json={**follow_up, "held_on": str(there)}).status_code
            == 201
        )
        rid = client.post(
            f"/api/v1/bodies/{KAMIICHI}/adviser-requests", headers=parties["body"], json={"topic": "計画"}
        )
        visits = f"/api/v1/adviser-requests/{rid.json()['id']}/visits"
        client.post(visits.replace("visits", "assign"), headers=parties["helpdesk"], json={"adviser": "山田"})
        visit = {"mode": "online", "summary": "計画を確認した。"}
        ahead = client.post(
            visits, headers=parties["helpdesk"], json={**visit, "visited_on": str(there + timedelta(1))}
        )
        assert ahead.status_code == 422, ahead.text
        assert (
            client.post(visits, headers=parties["helpdesk"], json={**visit, "visited_on": str(there)}).status_code
            == 200
        )
    finally:
        monkeypatch.delenv("PMO_TIMEZONE")
        get_settings.cache_clear()
