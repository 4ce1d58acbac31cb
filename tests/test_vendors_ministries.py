"""Vendors ask the helpdesk directly and see only their own; ministries answer what is routed to them
and publish notices for their own operations only."""

import pytest

CHIYODA, TOKYO = "131016", "130001"


@pytest.fixture
def accounts(token_for):
    return {
        "vendor": token_for("vendor", organization="みらい情報システム株式会社", operations=["koseki"]),
        "other_vendor": token_for("vendor", organization="東和データサービス株式会社"),
        "helpdesk": token_for("helpdesk"),
        "soumu": token_for("ministry", organization="総務省"),
        "mhlw": token_for("ministry", organization="厚生労働省"),
        "municipality": token_for("municipality", CHIYODA),
        "prefecture": token_for("prefecture", TOKYO),
        "viewer": token_for("viewer"),
        "admin": token_for("admin"),
    }


QUESTION = {
    "title": "住民記録システムの標準仕様書 第5.0版の適用時期",
    "question": "改定版の適用時期を確認したい。",
    "category": "specification",
    "operation": "jumin_kiroku",
}


def test_vendor_inquiry_goes_straight_to_the_helpdesk_and_stays_private(client, accounts):
    r = client.post("/api/v1/inquiries", headers=accounts["vendor"], json=QUESTION)
    assert r.status_code == 201, r.text
    inquiry = r.json()
    assert (inquiry["tier"], inquiry["state"], inquiry["asker"]["role"], inquiry["asker"]["body"]) == (
        "helpdesk",
        "open",
        "vendor",
        None,
    )
    iid = inquiry["id"]
    assert [i["id"] for i in client.get("/api/v1/inquiries", headers=accounts["helpdesk"]).json()["items"]] == [iid]
    assert [i["id"] for i in client.get("/api/v1/inquiries", headers=accounts["vendor"]).json()["items"]] == [iid]
    for who in ("other_vendor", "municipality", "prefecture", "viewer", "soumu"):
        assert client.get(f"/api/v1/inquiries/{iid}", headers=accounts[who]).status_code == 404, who
        assert client.get("/api/v1/inquiries", headers=accounts[who]).json()["items"] == [], who
    answered = client.post(
        f"/api/v1/inquiries/{iid}/answer", headers=accounts["helpdesk"], json={"text": "令和8年度からです。"}
    )
    assert answered.json()["state"] == "answered"
    assert (
        client.post(f"/api/v1/inquiries/{iid}/close", headers=accounts["vendor"], json={}).json()["state"] == "closed"
    )


def test_ministry_answers_what_the_helpdesk_routes_to_it(client, accounts):
    iid = client.post("/api/v1/inquiries", headers=accounts["prefecture"], json=QUESTION).json()["id"]
    assert client.get(f"/api/v1/inquiries/{iid}", headers=accounts["soumu"]).status_code == 404  # not routed yet
    assert (
        client.post(
            f"/api/v1/inquiries/{iid}/route", headers=accounts["prefecture"], json={"ministry": "総務省", "reason": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/inquiries/{iid}/route", headers=accounts["helpdesk"], json={"ministry": "財務省", "reason": "x"}
        ).status_code
        == 422
    )
    routed = client.post(
        f"/api/v1/inquiries/{iid}/route",
        headers=accounts["helpdesk"],
        json={"ministry": "総務省", "reason": "住民基本台帳の所管のため。"},
    )
    assert routed.status_code == 200 and routed.json()["tier"] == "ministry"
    assert client.get(f"/api/v1/inquiries/{iid}", headers=accounts["mhlw"]).status_code == 404
    seen = client.get(f"/api/v1/inquiries/{iid}", headers=accounts["soumu"])
    assert seen.status_code == 200 and "answer" in seen.json()["allowed_actions"]
    assert (
        client.post(f"/api/v1/inquiries/{iid}/answer", headers=accounts["helpdesk"], json={"text": "x"}).status_code
        == 409
    )
    client.post(
        f"/api/v1/inquiries/{iid}/messages", headers=accounts["soumu"], json={"text": "省内で確認中", "internal": True}
    )
    answered = client.post(
        f"/api/v1/inquiries/{iid}/answer", headers=accounts["soumu"], json={"text": "令和8年度からの適用です。"}
    )
    assert answered.status_code == 200 and answered.json()["state"] == "answered"
    asker_view = client.get(f"/api/v1/inquiries/{iid}", headers=accounts["prefecture"]).json()
    assert [m["text"] for m in asker_view["messages"]] == [
        "令和8年度からの適用です。"
    ]  # the ministry's note stays internal
    helpdesk_view = client.get(f"/api/v1/inquiries/{iid}", headers=accounts["helpdesk"]).json()
    assert "省内で確認中" in [m["text"] for m in helpdesk_view["messages"]]
    assert [e["action"] for e in helpdesk_view["history"]][-2:] == ["route", "answer"]


def test_ministry_publishes_notices_for_its_own_operations_only(client, accounts):
    notice = {
        "title": "住民記録システム標準仕様書の改定について",
        "body": "第5.0版を公表しました。",
        "category": "specification",
        "audience": "municipalities",
        "operation": "jumin_kiroku",
    }
    r = client.post("/api/v1/notices", headers=accounts["soumu"], json=notice)
    assert r.status_code == 201, r.text
    assert r.json()["publisher"] == "総務省"
    assert (
        client.post("/api/v1/notices", headers=accounts["soumu"], json={**notice, "operation": "kokuho"}).status_code
        == 403
    )
    assert (
        client.post("/api/v1/notices", headers=accounts["soumu"], json={**notice, "operation": None}).status_code == 403
    )
    assert client.post("/api/v1/notices", headers=accounts["mhlw"], json=notice).status_code == 403
    assert (
        client.post(
            "/api/v1/notices", headers=accounts["soumu"], json={**notice, "publisher": "厚生労働省"}
        ).status_code
        == 422
    )
    assert client.post("/api/v1/notices", headers=accounts["vendor"], json=notice).status_code == 403
    titles = [n["title"] for n in client.get("/api/v1/notices", headers=accounts["municipality"]).json()["items"]]
    assert titles == [notice["title"]]
    # vendors read what is addressed to vendors, and nothing addressed to bodies
    assert client.get("/api/v1/notices", headers=accounts["vendor"]).json()["items"] == []
    to_vendors = client.post(
        "/api/v1/notices",
        headers=accounts["helpdesk"],
        json={
            "title": "事業者向け説明会のご案内",
            "body": "オンラインで開催します。",
            "category": "event",
            "audience": "vendors",
            "publisher": "デジタル庁",
        },
    )
    assert to_vendors.status_code == 201 and to_vendors.json()["publisher"] == "デジタル庁"
    assert [n["title"] for n in client.get("/api/v1/notices", headers=accounts["vendor"]).json()["items"]] == [
        "事業者向け説明会のご案内"
    ]
    assert to_vendors.json()["id"] not in [
        n["id"] for n in client.get("/api/v1/notices", headers=accounts["municipality"]).json()["items"]
    ]


def test_vendors_read_published_faq_and_statistics_but_no_rows(client, accounts):
    client.post(
        "/api/v1/faqs",
        headers=accounts["helpdesk"],
        json={
            "title": "Fit&Gap分析の進め方",
            "question": "進め方は？",
            "answer": "標準仕様書と比較します。",
            "status": "published",
            "publisher": "総務省",
        },
    )
    faqs = client.get("/api/v1/faqs", params={"q": "フィットギャップ"}, headers=accounts["vendor"]).json()
    assert faqs["items"][0]["publisher"] == "総務省"
    assert client.get("/api/v1/stats/progress", headers=accounts["vendor"]).status_code == 200
    for path in (
        f"/api/v1/bodies/{CHIYODA}/reports",
        f"/api/v1/bodies/{CHIYODA}/systems",
        f"/api/v1/bodies/{CHIYODA}/progress",
        f"/api/v1/prefectures/{TOKYO}/bodies",
    ):
        for who in ("vendor", "soumu"):
            assert client.get(path, headers=accounts[who]).status_code == 403, (who, path)


def test_a_vendor_counts_as_one_asker_in_the_national_inquiry_figures(client, accounts):
    client.post("/api/v1/inquiries", headers=accounts["vendor"], json=QUESTION)
    response = client.get("/api/v1/stats/inquiries", params={"by": "tier"}, headers=accounts["viewer"])
    stats = response.json()
    assert stats["total"] == {"suppressed": None, "n_inquiries": 1, "n_bodies": 1}
    helpdesk = next(c for c in stats["cells"] if c["tier"] == "helpdesk")
    assert (helpdesk["n_inquiries"], helpdesk["n_bodies"]) == (1, 1)
    assert "情報システム" not in response.text  # national counts only: no asker is named
