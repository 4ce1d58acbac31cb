"""Notices through HTTP: audiences, read marks, who has not read, and who may do what."""

import pytest

API = "/api/v1/notices"
CHIYODA, CHUO, SAPPORO, TOKYO, HOKKAIDO = "131016", "131024", "011002", "130001", "010006"
TOKYO_MUNICIPALITIES = 62


@pytest.fixture
def who(token_for):
    return {
        "chiyoda": token_for("municipality", CHIYODA),
        "chiyoda2": token_for("municipality", CHIYODA),
        "chuo": token_for("municipality", CHUO),
        "sapporo": token_for("municipality", SAPPORO),
        "tokyo": token_for("prefecture", TOKYO),
        "hokkaido": token_for("prefecture", HOKKAIDO),
        "helpdesk": token_for("helpdesk"),
        "admin": token_for("admin"),
        "viewer": token_for("viewer"),
    }


def publish(client, headers, title, audience, **extra) -> dict:
    r = client.post(
        API,
        headers=headers,
        json={
            "title": title,
            "body": f"{title}について、別添のとおりお知らせします。",
            "category": "administrative_notice",
            "audience": audience,
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def notices(client, who) -> dict[str, dict]:
    return {
        "all": publish(client, who["helpdesk"], "標準化基本方針の改定", "all"),
        "prefectures": publish(client, who["admin"], "都道府県向け説明会の開催", "prefectures"),
        "municipalities": publish(client, who["helpdesk"], "特定移行支援システムの該当見込み調査", "municipalities"),
        "tokyo": publish(
            client, who["helpdesk"], "東京都内市区町村向け事務連絡", "prefecture_municipalities", prefecture="13"
        ),
        "hokkaido": publish(
            client, who["helpdesk"], "北海道内市町村向け事務連絡", "prefecture_municipalities", prefecture="01"
        ),
    }


def seen(client, headers, **params) -> list[str]:
    r = client.get(API, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [n["title"] for n in r.json()["items"]]


def test_each_body_sees_the_notices_addressed_to_it_newest_first(client, who, notices):
    t = {k: v["title"] for k, v in notices.items()}
    assert seen(client, who["chiyoda"]) == [t["tokyo"], t["municipalities"], t["all"]]
    assert seen(client, who["sapporo"]) == [t["hokkaido"], t["municipalities"], t["all"]]
    assert seen(client, who["tokyo"]) == [t["prefectures"], t["all"]]
    assert seen(client, who["viewer"]) == []
    assert len(seen(client, who["helpdesk"])) == 5 and len(seen(client, who["admin"])) == 5
    assert client.get(f"{API}/{notices['hokkaido']['id']}", headers=who["chiyoda"]).status_code == 404
    assert client.get(f"{API}/{notices['municipalities']['id']}", headers=who["tokyo"]).status_code == 404
    one = client.get(f"{API}/{notices['tokyo']['id']}", headers=who["chuo"]).json()
    assert (
        one["audience_label"] == "特定の都道府県の市区町村"
        and one["category_label"] == "事務連絡"
        and one["read_at"] is None
    )


def test_reading_is_recorded_per_body_and_the_sender_sees_who_has_not_read(client, who, notices):
    tokyo_notice = notices["tokyo"]["id"]
    first = client.post(f"{API}/{tokyo_notice}/read", headers=who["chiyoda"])
    assert first.status_code == 200 and first.json()["body"] == CHIYODA
    again = client.post(f"{API}/{tokyo_notice}/read", headers=who["chiyoda2"])  # a colleague: still the first reading
    assert again.json()["read_at"] == first.json()["read_at"]
    assert seen(client, who["chiyoda"], unread="true") == [notices["municipalities"]["title"], notices["all"]["title"]]
    assert seen(client, who["chiyoda2"], unread="false") == [notices["tokyo"]["title"]]
    assert seen(client, who["chuo"], unread="false") == []
    readers = client.get(f"{API}/{tokyo_notice}/readers", headers=who["helpdesk"]).json()
    assert (readers["n_recipients"], readers["n_read"], readers["n_unread"]) == (
        TOKYO_MUNICIPALITIES,
        1,
        TOKYO_MUNICIPALITIES - 1,
    )
    assert all(b["body"].startswith("13") and b["kind"] != "prefecture" for b in readers["bodies"])
    chiyoda = next(b for b in readers["bodies"] if b["body"] == CHIYODA)
    assert chiyoda["read_at"] and chiyoda["read_by"].startswith("municipality-")
    unread = client.get(f"{API}/{tokyo_notice}/readers", headers=who["admin"], params={"read": "false"}).json()
    assert CHIYODA not in {b["body"] for b in unread["bodies"]} and len(unread["bodies"]) == TOKYO_MUNICIPALITIES - 1
    listing = client.get(API, headers=who["helpdesk"]).json()["items"]
    counts = {n["id"]: (n["n_recipients"], n["n_read"]) for n in listing}
    assert counts[tokyo_notice] == (TOKYO_MUNICIPALITIES, 1)
    assert counts[notices["all"]["id"]] == (1788, 0) and counts[notices["prefectures"]["id"]] == (47, 0)
    assert counts[notices["municipalities"]["id"]] == (1741, 0)


def test_only_senders_publish_and_only_recipients_mark_read(client, who, notices):
    for role in ("chiyoda", "tokyo", "viewer"):
        r = client.post(
            API, headers=who[role], json={"title": "t", "body": "b", "category": "other", "audience": "all"}
        )
        assert r.status_code == 403, role
        assert client.get(f"{API}/{notices['all']['id']}/readers", headers=who[role]).status_code == 403
    assert client.post(f"{API}/{notices['hokkaido']['id']}/read", headers=who["chiyoda"]).status_code == 404
    assert client.post(f"{API}/{notices['all']['id']}/read", headers=who["viewer"]).status_code == 404
    r = client.post(f"{API}/{notices['all']['id']}/read", headers=who["helpdesk"])
    assert r.status_code == 403 and "宛先の団体" in r.json()["message"]
    assert client.get(API, headers=who["helpdesk"], params={"unread": "true"}).status_code == 422
    assert client.get(f"{API}/{10**12}", headers=who["chiyoda"]).status_code == 422
    assert client.get(f"{API}/999999", headers=who["helpdesk"]).status_code == 404


def test_a_notice_is_validated_field_by_field(client, who):
    base = {"title": "t", "body": "b", "category": "specification", "audience": "all"}
    cases = [
        ({"audience": "prefecture_municipalities"}, ["body", "prefecture"], "prefecture"),  # located at the field
        ({"prefecture": "13"}, ["body", "prefecture"], "prefecture"),
        ({"audience": "prefecture_municipalities", "prefecture": "48"}, ["body", "prefecture"], None),
        ({"category": "memo"}, ["body", "category"], None),
        ({"operation": "nope"}, ["body", "operation"], None),
        ({"faq_id": 999}, ["body", "faq_id"], None),
        ({"inquiry_id": 999}, ["body", "inquiry_id"], None),
    ]
    for changes, loc, word in cases:
        r = client.post(API, headers=who["helpdesk"], json={**base, **changes})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (changes, r.text)
        assert word is None or word in r.json()["detail"][0]["msg"]


def test_links_to_a_published_faq_and_an_inquiry(client, who):
    draft = client.post(
        "/api/v1/faqs", headers=who["helpdesk"], json={"title": "t", "question": "q", "answer": "a"}
    ).json()
    base = {
        "title": "標準仕様書 第5.0版の公表",
        "body": "改定内容は FAQ を参照してください。",
        "category": "specification",
        "audience": "all",
        "operation": "jumin_kiroku",
    }
    r = client.post(API, headers=who["helpdesk"], json={**base, "faq_id": draft["id"]})
    assert r.status_code == 422 and "下書き" in r.json()["detail"][0]["msg"]
    client.put(
        f"/api/v1/faqs/{draft['id']}",
        headers=who["helpdesk"],
        json={"title": "t", "question": "q", "answer": "a", "status": "published"},
    )
    inq = client.post(
        "/api/v1/inquiries",
        headers=who["tokyo"],
        json={"title": "改定の時期", "question": "いつ？", "category": "specification"},
    ).json()
    r = client.post(API, headers=who["helpdesk"], json={**base, "faq_id": draft["id"], "inquiry_id": inq["id"]})
    assert r.status_code == 201, r.text
    assert (r.json()["faq_id"], r.json()["inquiry_id"], r.json()["operation"]) == (
        draft["id"],
        inq["id"],
        "jumin_kiroku",
    )
    # an inquiry the sender cannot see cannot be linked
    hidden = client.post(
        "/api/v1/inquiries", headers=who["chiyoda"], json={"title": "x", "question": "y", "category": "other"}
    ).json()
    r = client.post(API, headers=who["helpdesk"], json={**base, "inquiry_id": hidden["id"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "inquiry_id"]


def test_publishing_and_reading_are_audited(client, who, notices):
    client.post(f"{API}/{notices['all']['id']}/read", headers=who["tokyo"])
    client.post(f"{API}/{notices['all']['id']}/read", headers=who["tokyo"])
    entries = client.get("/api/v1/audit", headers=who["admin"], params={"limit": 50}).json()["items"]
    target = f"notice:{notices['all']['id']}"
    assert [e["action"] for e in entries if e["target"] == target] == ["notice.read", "notice.publish"]


def test_colleagues_marking_read_at_the_same_moment_all_succeed(client, token_for, who, notices):
    import threading

    from fastapi.testclient import TestClient

    colleagues = [token_for("municipality", CHIYODA) for _ in range(8)]
    barrier, results = threading.Barrier(len(colleagues)), []
    app = client.app

    def mark(headers):
        with TestClient(app) as c:
            barrier.wait()
            r = c.post(f"{API}/{notices['all']['id']}/read", headers=headers)
            results.append((r.status_code, r.json().get("read_at")))

    threads = [threading.Thread(target=mark, args=(h,)) for h in colleagues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [200] * len(colleagues), results
    assert len({read_at for _, read_at in results}) == 1  # one reading: the first
    readers = client.get(f"{API}/{notices['all']['id']}/readers", headers=who["helpdesk"]).json()
    assert readers["n_read"] == 1
