"""Inquiries through HTTP: every path of the state machine, who sees what, internal notes, due times."""

from datetime import UTC, date, datetime

import pytest

from pmo.inquiries.calendar import add_business_days, business_days_between, is_business_day

CHIYODA, CHUO, SAPPORO, TOKYO, HOKKAIDO = "131016", "131024", "011002", "130001", "010006"
API = "/api/v1/inquiries"
QUESTION = {
    "title": "Fit&Gap分析の進め方について",
    "question": "住民記録システムの標準仕様書とのFit&Gap分析を始めます。独自施策の扱いはどう整理すればよいでしょうか。",
    "category": "fit_gap",
    "operation": "jumin_kiroku",
    "step": "S07",
}


@pytest.fixture
def who(token_for):
    """Headers per participant: the asker, a neighbour, its prefecture, another prefecture, the helpdesk, …"""
    return {
        "chiyoda": token_for("municipality", CHIYODA),
        "chiyoda2": token_for("municipality", CHIYODA),  # a colleague at the same body
        "chuo": token_for("municipality", CHUO),
        "sapporo": token_for("municipality", SAPPORO),
        "tokyo": token_for("prefecture", TOKYO),
        "hokkaido": token_for("prefecture", HOKKAIDO),
        "helpdesk": token_for("helpdesk"),
        "admin": token_for("admin"),
        "viewer": token_for("viewer"),
    }


@pytest.fixture
def clock(monkeypatch):
    """Freeze the inquiries' clock: clock.set(datetime) moves it."""

    class Clock:
        now = datetime(2025, 10, 31, 1, 0, tzinfo=UTC)  # Friday 10:00 JST

        def set(self, when: datetime) -> None:
            self.now = when

    c = Clock()
    monkeypatch.setattr("pmo.inquiries.service.utcnow", lambda: c.now)
    return c


def jst(y, m, d, hour=10) -> datetime:
    return datetime(y, m, d, hour - 9, 0, tzinfo=UTC)


def file(client, headers, **changes) -> dict:
    r = client.post(API, headers=headers, json={**QUESTION, **changes})
    assert r.status_code == 201, r.text
    return r.json()


def do(client, headers, inquiry_id, action, status=200, **body) -> dict:
    r = client.post(f"{API}/{inquiry_id}/{action}", headers=headers, json=body or None)
    assert r.status_code == status, r.text
    return r.json()


def read(client, headers, inquiry_id, status=200) -> dict:
    r = client.get(f"{API}/{inquiry_id}", headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def queue_ids(client, headers, **params) -> list[int]:
    r = client.get(API, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def path(inquiry: dict) -> list[tuple]:
    return [(e["action"], e["from_state"], e["to_state"], e["to_tier"]) for e in inquiry["history"]]


# --- filing and visibility ----------------------------------------------------------------------


def test_a_municipality_inquiry_lands_in_its_prefecture_queue_only(client, who):
    inq = file(client, who["chiyoda"])
    assert (inq["state"], inq["tier"], inq["asker"]["body"], inq["operation"], inq["step"]) == (
        "open",
        "prefecture",
        CHIYODA,
        "jumin_kiroku",
        "S07",
    )
    assert inq["state_label"] == "対応中" and inq["due_at"] and inq["overdue"] is False
    assert path(inq) == [("file", None, "open", "prefecture")]
    assert inq["history"][0]["actor"].startswith("municipality-")
    assert queue_ids(client, who["tokyo"]) == [inq["id"]]
    assert queue_ids(client, who["chiyoda2"]) == [inq["id"]]  # the whole body sees its inquiries
    for outsider in ("chuo", "sapporo", "hokkaido", "helpdesk", "viewer"):
        assert queue_ids(client, who[outsider]) == [], outsider
        read(client, who[outsider], inq["id"], status=404)
    assert read(client, who["admin"], inq["id"])["allowed_actions"] == []  # admin reads, never acts
    handling = ["answer", "ask_back", "escalate", "comment", "assign"]
    assert read(client, who["tokyo"], inq["id"])["allowed_actions"] == handling
    assert read(client, who["chiyoda"], inq["id"])["allowed_actions"] == ["close", "comment"]


def test_an_unknown_id_and_a_hidden_one_answer_alike(client, who):
    inq = file(client, who["chiyoda"])
    hidden = client.get(f"{API}/{inq['id']}", headers=who["hokkaido"])
    missing = client.get(f"{API}/{inq['id'] + 1000}", headers=who["hokkaido"])
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"] == missing.json()["error"] == "not_found"
    for action, body in (
        ("answer", {"text": "x"}),
        ("escalate", {"reason": "x"}),
        ("close", None),
        ("messages", {"text": "x"}),
        ("reopen", {"reason": "x"}),
    ):
        for outsider in ("hokkaido", "chuo", "helpdesk", "viewer"):
            r = client.post(f"{API}/{inq['id']}/{action}", headers=who[outsider], json=body)
            assert r.status_code == 404, (action, outsider, r.text)
    assert read(client, who["chiyoda"], inq["id"])["state"] == "open"  # nothing happened


def test_a_prefecture_asks_the_helpdesk_directly(client, who):
    inq = file(
        client,
        who["tokyo"],
        title="ガバメントクラウドの利用料の按分",
        category="government_cloud",
        operation=None,
        step=None,
    )
    assert (inq["tier"], inq["asker"]["role"], inq["asker"]["body"]) == ("helpdesk", "prefecture", TOKYO)
    assert path(inq) == [("file", None, "open", "helpdesk")]
    assert queue_ids(client, who["helpdesk"]) == [inq["id"]]
    read(client, who["chiyoda"], inq["id"], status=404)  # the prefecture's own question is not its municipalities'
    read(client, who["hokkaido"], inq["id"], status=404)
    assert read(client, who["tokyo"], inq["id"])["allowed_actions"] == ["close", "comment"]
    do(client, who["tokyo"], inq["id"], "escalate", status=403, reason="自分の問合せ")  # the asker escalates nothing
    done = do(client, who["helpdesk"], inq["id"], "answer", text="団体ごとの利用量で按分する方法を推奨しています。")
    assert done["state"] == "answered"
    closed = do(client, who["tokyo"], inq["id"], "close")
    assert path(closed)[-2:] == [
        ("answer", "open", "answered", "helpdesk"),
        ("close", "answered", "closed", "helpdesk"),
    ]


def test_only_bodies_file_inquiries(client, who):
    for role in ("helpdesk", "admin", "viewer"):
        r = client.post(API, headers=who[role], json=QUESTION)
        assert r.status_code == 403 and "市区町村・都道府県" in r.json()["message"], role


# --- every path of the state machine ------------------------------------------------------------


def test_prefecture_answers_and_the_asker_closes(client, who):
    inq = file(client, who["chiyoda"])
    answered = do(
        client, who["tokyo"], inq["id"], "answer", text="独自施策は標準準拠システムの外で実現する整理が基本です。"
    )
    assert answered["state"] == "answered" and answered["due_at"] is None and answered["answered_at"]
    assert answered["messages"][-1]["kind"] == "answer" and answered["messages"][-1]["visibility"] == "public"
    assert read(client, who["chiyoda"], inq["id"])["allowed_actions"] == ["close", "reopen", "comment"]
    closed = do(client, who["chiyoda2"], inq["id"], "close", note="解決しました")
    assert closed["state"] == "closed" and closed["history"][-1]["note"] == "解決しました"
    assert path(closed) == [
        ("file", None, "open", "prefecture"),
        ("answer", "open", "answered", "prefecture"),
        ("close", "answered", "closed", "prefecture"),
    ]


def test_ask_back_pauses_and_the_reply_resumes(client, who):
    inq = file(client, who["chiyoda"])
    asked = do(client, who["tokyo"], inq["id"], "ask-back", text="独自施策の一覧を共有いただけますか。")
    assert asked["state"] == "awaiting_asker" and asked["paused"] is True and asked["state_label"] == "質問者の回答待ち"
    do(client, who["tokyo"], inq["id"], "answer", status=409, text="先に回答")
    replied = do(client, who["chiyoda"], inq["id"], "reply", text="一覧を添付します（3施策）。")
    assert replied["state"] == "open" and replied["paused"] is False
    # a plain message from the asker while asked back is its reply, too
    do(client, who["tokyo"], inq["id"], "ask-back", text="各施策の対象者数も教えてください。")
    via_message = client.post(f"{API}/{inq['id']}/messages", headers=who["chiyoda"], json={"text": "約120人です。"})
    assert via_message.status_code == 201 and via_message.json()["state"] == "open"
    assert [e["action"] for e in via_message.json()["history"]] == ["file", "ask_back", "reply", "ask_back", "reply"]
    assert [m["kind"] for m in via_message.json()["messages"]] == ["ask_back", "reply", "ask_back", "reply"]


def test_escalation_to_the_helpdesk_and_back_and_forth(client, who):
    inq = file(client, who["chiyoda"])
    read(client, who["helpdesk"], inq["id"], status=404)  # not before escalation
    do(client, who["tokyo"], inq["id"], "escalate", status=422, reason="")
    up = do(client, who["tokyo"], inq["id"], "escalate", reason="標準仕様書の解釈に関わるため国の見解を伺います。")
    assert (up["state"], up["tier"]) == ("open", "helpdesk") and up["history"][-1]["note"].startswith(
        "標準仕様書の解釈"
    )
    assert up["due_at"] != inq["due_at"]
    assert queue_ids(client, who["helpdesk"]) == [inq["id"]]
    assert queue_ids(client, who["tokyo"]) == [inq["id"]]  # the prefecture keeps seeing it
    # the prefecture no longer handles it: the right role at the wrong moment is 409, naming where it stands
    r = client.post(f"{API}/{inq['id']}/answer", headers=who["tokyo"], json={"text": "回答"})
    assert r.status_code == 409 and "対応中" in r.json()["message"] and "ヘルプデスク" in r.json()["message"]
    assert r.json()["detail"]["state"] == "open" and r.json()["detail"]["tier"] == "helpdesk"
    do(client, who["tokyo"], inq["id"], "escalate", status=409, reason="もう一度")
    do(client, who["helpdesk"], inq["id"], "escalate", status=403, reason="国から上へ")
    do(client, who["helpdesk"], inq["id"], "ask-back", text="対象となる条例名を教えてください。")
    do(client, who["chiyoda"], inq["id"], "reply", text="千代田区住民記録条例です。")
    do(client, who["helpdesk"], inq["id"], "answer", text="条例の改正で対応し、システムは標準のまま利用してください。")
    reopened = do(client, who["chiyoda"], inq["id"], "reopen", reason="経過措置期間の扱いも知りたい。")
    assert (reopened["state"], reopened["tier"]) == ("open", "helpdesk") and reopened["due_at"] is not None
    do(client, who["helpdesk"], inq["id"], "answer", text="経過措置は附則で定めてください。")
    final = do(client, who["chiyoda"], inq["id"], "close")
    assert path(final) == [
        ("file", None, "open", "prefecture"),
        ("escalate", "open", "open", "helpdesk"),
        ("ask_back", "open", "awaiting_asker", "helpdesk"),
        ("reply", "awaiting_asker", "open", "helpdesk"),
        ("answer", "open", "answered", "helpdesk"),
        ("reopen", "answered", "open", "helpdesk"),
        ("answer", "open", "answered", "helpdesk"),
        ("close", "answered", "closed", "helpdesk"),
    ]
    assert final["history"][1]["from_tier"] == "prefecture"


def test_the_asker_may_withdraw_and_reopen_an_unanswered_inquiry(client, who):
    inq = file(client, who["chiyoda"])
    do(client, who["tokyo"], inq["id"], "ask-back", text="詳細を")
    withdrawn = do(client, who["chiyoda"], inq["id"], "close", note="自己解決しました")
    assert withdrawn["state"] == "closed" and withdrawn["reopen_until"]
    again = do(client, who["chiyoda"], inq["id"], "reopen", reason="やはり確認したい")
    assert (again["state"], again["tier"]) == ("open", "prefecture")
    closed = do(client, who["chiyoda"], inq["id"], "close")
    assert [e["action"] for e in closed["history"]] == ["file", "ask_back", "close", "reopen", "close"]


# Which transitions each state allows (tier: prefecture, actor: the party entitled to the action).
EXPECTED = {
    "open": {"answer", "ask-back", "escalate", "close"},
    "awaiting_asker": {"reply", "close"},
    "answered": {"close", "reopen"},
    "closed": {"reopen"},
}
ACTORS = {
    "answer": "tokyo",
    "ask-back": "tokyo",
    "escalate": "tokyo",
    "close": "chiyoda",
    "reply": "chiyoda",
    "reopen": "chiyoda",
}
BODIES = {
    "answer": {"text": "t"},
    "ask-back": {"text": "t"},
    "escalate": {"reason": "r"},
    "close": None,
    "reply": {"text": "t"},
    "reopen": {"reason": "r"},
}


def _in_state(client, who, state) -> int:
    inq = file(client, who["chiyoda"])
    if state == "awaiting_asker":
        do(client, who["tokyo"], inq["id"], "ask-back", text="?")
    elif state in ("answered", "closed"):
        do(client, who["tokyo"], inq["id"], "answer", text="!")
        if state == "closed":
            do(client, who["chiyoda"], inq["id"], "close")
    return inq["id"]


@pytest.mark.parametrize("state", list(EXPECTED))
def test_illegal_transitions_are_409_naming_the_state(client, who, state):
    for action, actor in ACTORS.items():
        inquiry_id = _in_state(client, who, state)
        r = client.post(f"{API}/{inquiry_id}/{action}", headers=who[actor], json=BODIES[action])
        if action in EXPECTED[state]:
            assert r.status_code == 200, (state, action, r.text)
        else:
            assert r.status_code == 409, (state, action, r.text)
            assert r.json()["detail"]["state"] == state and "現在" in r.json()["message"], r.text


def test_wrong_party_is_403_on_a_visible_inquiry(client, who):
    inq = file(client, who["chiyoda"])
    for action in ("answer", "ask-back", "escalate"):
        r = client.post(f"{API}/{inq['id']}/{action}", headers=who["chiyoda"], json=BODIES[action])
        assert r.status_code == 403 and "都道府県" in r.json()["message"], (action, r.text)
    for action in ("close", "reopen", "reply"):
        r = client.post(f"{API}/{inq['id']}/{action}", headers=who["tokyo"], json=BODIES[action])
        assert r.status_code == 403 and "質問者" in r.json()["message"], (action, r.text)
    for action, body in BODIES.items():
        assert client.post(f"{API}/{inq['id']}/{action}", headers=who["admin"], json=body).status_code == 403
    assert client.post(f"{API}/{inq['id']}/messages", headers=who["admin"], json={"text": "x"}).status_code == 403


# --- messages -----------------------------------------------------------------------------------


def _texts(inquiry: dict) -> set[str]:
    return {m["text"] for m in inquiry["messages"]}


def test_internal_notes_stay_within_their_tier(client, who):
    inq = file(client, who["chiyoda"])
    note = {"text": "県内の他団体でも同様の論点あり（県内部メモ）", "internal": True}
    r = client.post(f"{API}/{inq['id']}/messages", headers=who["tokyo"], json=note)
    assert r.status_code == 201 and r.json()["messages"][-1]["visibility"] == "prefecture"
    client.post(f"{API}/{inq['id']}/messages", headers=who["tokyo"], json={"text": "確認中です。"})
    assert _texts(read(client, who["chiyoda"], inq["id"])) == {"確認中です。"}
    do(client, who["tokyo"], inq["id"], "escalate", reason="国の見解が必要")
    assert note["text"] not in _texts(read(client, who["helpdesk"], inq["id"]))
    hd_note = {"text": "総務省と協議予定（ヘルプデスク内部）", "internal": True}
    r = client.post(f"{API}/{inq['id']}/messages", headers=who["helpdesk"], json=hd_note)
    assert r.json()["messages"][-1]["visibility"] == "helpdesk"
    client.post(f"{API}/{inq['id']}/messages", headers=who["helpdesk"], json={"text": "回答まで少々お待ちください。"})
    assert _texts(read(client, who["chiyoda"], inq["id"])) == {"確認中です。", "回答まで少々お待ちください。"}
    assert _texts(read(client, who["tokyo"], inq["id"])) == {
        "確認中です。",
        note["text"],
        "回答まで少々お待ちください。",
    }
    assert _texts(read(client, who["helpdesk"], inq["id"])) == {
        "確認中です。",
        hd_note["text"],
        "回答まで少々お待ちください。",
    }
    assert len(read(client, who["admin"], inq["id"])["messages"]) == 4
    # and not in the list of anyone else either
    queue = client.get(API, headers=who["chiyoda"]).json()["items"]
    assert "messages" not in queue[0]


def test_the_asker_cannot_write_internal_notes_and_closed_inquiries_take_no_messages(client, who):
    inq = file(client, who["chiyoda"])
    r = client.post(f"{API}/{inq['id']}/messages", headers=who["chiyoda"], json={"text": "x", "internal": True})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "internal"]
    do(client, who["chiyoda"], inq["id"], "close")
    r = client.post(f"{API}/{inq['id']}/messages", headers=who["tokyo"], json={"text": "追記"})
    assert r.status_code == 409 and "再開" in r.json()["message"]


# --- due times ----------------------------------------------------------------------------------


def test_business_days_skip_weekends_holidays_and_the_year_end():
    assert not is_business_day(date(2025, 11, 3))  # 文化の日 (Monday)
    assert not is_business_day(date(2025, 11, 8)) and is_business_day(date(2025, 11, 4))
    assert not is_business_day(date(2025, 12, 29)) and not is_business_day(date(2026, 1, 2))
    assert add_business_days(jst(2025, 10, 31), 1) == jst(2025, 11, 4)
    assert add_business_days(jst(2025, 12, 26), 1) == jst(2026, 1, 5)
    assert business_days_between(jst(2025, 10, 31), jst(2025, 11, 5)) == 2  # 11/4, 11/5
    assert business_days_between(jst(2025, 11, 5), jst(2025, 11, 5, 17)) == 0


def test_due_time_counts_business_days_and_pauses_while_asked_back(client, who, clock):
    clock.set(jst(2025, 10, 31))  # Friday; Monday 11/3 is 文化の日
    inq = file(client, who["chiyoda"])
    assert inq["due_at"] == "2025-11-10T01:00:00Z"  # 11/4, 5, 6, 7, 10 (PMO_SLA_PREFECTURE_DAYS=5)
    clock.set(jst(2025, 11, 5))
    do(client, who["tokyo"], inq["id"], "ask-back", text="補足を")
    clock.set(jst(2025, 11, 11))  # past the due time, but the clock is stopped
    waiting = read(client, who["tokyo"], inq["id"])
    assert waiting["overdue"] is False and waiting["paused"] is True
    replied = do(client, who["chiyoda"], inq["id"], "reply", text="補足です")
    assert replied["due_at"] == "2025-11-14T01:00:00Z"  # paused 11/6, 7, 10, 11 → four more business days
    clock.set(jst(2025, 11, 14, 11))
    assert read(client, who["tokyo"], inq["id"])["overdue"] is True
    up = do(client, who["tokyo"], inq["id"], "escalate", reason="国へ")
    assert up["due_at"] == "2025-12-01T02:00:00Z" and up["overdue"] is False  # helpdesk: 10 days; 11/24 振替休日


def test_the_sla_settings_apply(client, who, clock, monkeypatch):
    monkeypatch.setenv("PMO_SLA_PREFECTURE_DAYS", "1")
    from pmo.config import get_settings

    get_settings.cache_clear()
    try:
        clock.set(jst(2025, 10, 31))
        assert file(client, who["chiyoda"])["due_at"] == "2025-11-04T01:00:00Z"
    finally:
        monkeypatch.delenv("PMO_SLA_PREFECTURE_DAYS")
        get_settings.cache_clear()


def test_queue_sorts_by_due_time_flags_overdue_and_pages(client, who, clock):
    clock.set(jst(2025, 10, 1))
    early = file(client, who["chiyoda"], title="早い")
    clock.set(jst(2025, 10, 20))
    later = file(client, who["chuo"], title="遅い")
    clock.set(jst(2025, 10, 10))
    middle = file(client, who["chiyoda"], title="中間")
    settled = file(client, who["chuo"], title="回答済み")
    do(client, who["tokyo"], settled["id"], "answer", text="回答")
    clock.set(jst(2025, 10, 21))
    r = client.get(API, headers=who["tokyo"]).json()
    assert [i["id"] for i in r["items"]] == [early["id"], middle["id"], later["id"], settled["id"]]
    assert [i["overdue"] for i in r["items"]] == [True, True, False, False]
    assert r["total"] == 4
    assert queue_ids(client, who["tokyo"], overdue="true") == [early["id"], middle["id"]]
    assert queue_ids(client, who["tokyo"], overdue="false") == [later["id"], settled["id"]]
    assert queue_ids(client, who["tokyo"], status="answered") == [settled["id"]]
    assert queue_ids(client, who["tokyo"], status="open,awaiting_asker") == [early["id"], middle["id"], later["id"]]
    assert queue_ids(client, who["tokyo"], status="active", limit=2, offset=1) == [middle["id"], later["id"]]
    assert queue_ids(client, who["chuo"]) == [later["id"], settled["id"]]
    assert queue_ids(client, who["tokyo"], operation="koseki") == []
    assert queue_ids(client, who["tokyo"], tier="helpdesk") == []


def test_queue_parameters_are_checked(client, who):
    for params, loc in (
        ({"status": "pending"}, ["query", "status"]),
        ({"limit": 100000}, ["query", "limit"]),
        ({"operation": "nope"}, ["query", "operation"]),
        ({"tier": "cabinet"}, ["query", "tier"]),
        ({"overdue": "maybe"}, ["query", "overdue"]),
        ({"operation": "a\u0000b"}, ["query", "operation"]),
    ):
        r = client.get(API, headers=who["tokyo"], params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (params, r.text)
    assert client.get(f"{API}/99999999999999", headers=who["tokyo"]).status_code == 422
    assert client.get(f"{API}/abc", headers=who["tokyo"]).status_code == 422
    assert client.get(API).status_code == 401


def test_filing_is_validated_field_by_field(client, who):
    for changes, loc in (
        ({"operation": "jumin"}, ["body", "operation"]),
        ({"step": "S41"}, ["body", "step"]),
        ({"category": "misc"}, ["body", "category"]),
        ({"title": ""}, ["body", "title"]),
        ({"question": "NUL\u0000"}, ["body", "question"]),
    ):
        r = client.post(API, headers=who["chiyoda"], json={**QUESTION, **changes})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (changes, r.text)
        assert r.json()["detail"][0]["msg"]
    r = client.post(API, headers=who["chiyoda"], json={"title": "件名のみ"})
    assert r.status_code == 422 and {tuple(d["loc"]) for d in r.json()["detail"]} == {
        ("body", "question"),
        ("body", "category"),
    }


# --- reopen window ------------------------------------------------------------------------------


def test_reopen_only_within_the_window(client, who, clock):
    clock.set(jst(2025, 10, 1))
    inq = file(client, who["chiyoda"])
    do(client, who["tokyo"], inq["id"], "answer", text="回答")
    clock.set(jst(2025, 10, 10))
    do(client, who["chiyoda"], inq["id"], "close")  # closing later does not extend the window
    clock.set(jst(2025, 10, 15, 11))  # 14 days and an hour after the answer (PMO_INQUIRY_REOPEN_DAYS=14)
    assert "reopen" not in read(client, who["chiyoda"], inq["id"])["allowed_actions"]
    r = client.post(f"{API}/{inq['id']}/reopen", headers=who["chiyoda"], json={"reason": "追加の質問"})
    assert r.status_code == 409 and "14日" in r.json()["message"] and r.json()["detail"]["state"] == "closed"
    other = file(client, who["chiyoda"])
    do(client, who["tokyo"], other["id"], "answer", text="回答")
    clock.set(jst(2025, 10, 29, 9))  # 13 days and 23 hours later
    assert read(client, who["chiyoda"], other["id"])["reopen_until"] == "2025-10-29T02:00:00Z"
    assert do(client, who["chiyoda"], other["id"], "reopen", reason="追加の質問")["state"] == "open"


# --- duplicates ---------------------------------------------------------------------------------


def test_filing_suggests_similar_faq_and_own_open_inquiries(client, who):
    faq = client.post(
        "/api/v1/faqs",
        headers=who["helpdesk"],
        json={
            "title": "Fit&Gap分析の進め方",
            "question": "Fit&Gap分析はどのように進めればよいですか。",
            "answer": "標準仕様書の機能要件と現行業務を比較し、差異を一覧にします。",
            "status": "published",
        },
    ).json()
    first = file(client, who["chiyoda"], title="フィットギャップ分析の進め方を知りたい")
    assert [f["id"] for f in first["similar"]["faqs"]] == [faq["id"]]
    assert first["similar"]["inquiries"] == []
    second = file(client, who["chiyoda2"], title="フィットギャップ分析の進め方")
    assert [i["id"] for i in second["similar"]["inquiries"]] == [first["id"]]
    other = file(client, who["chuo"], title="フィットギャップ分析の進め方")
    assert other["similar"]["inquiries"] == []  # another body's inquiries are never suggested
    r = client.get(f"{API}/similar", headers=who["chiyoda"], params={"q": "Fit&Gap 進め方"})
    assert r.status_code == 200
    assert [f["id"] for f in r.json()["faqs"]] == [faq["id"]]
    assert {i["id"] for i in r.json()["inquiries"]} == {first["id"], second["id"]}
    unrelated = client.get(f"{API}/similar", headers=who["chiyoda"], params={"q": "児童手当の支給日"}).json()
    assert unrelated == {"faqs": [], "inquiries": []}


# --- audit and statistics -----------------------------------------------------------------------


def test_every_transition_is_audited(client, who):
    inq = file(client, who["chiyoda"])
    do(client, who["tokyo"], inq["id"], "escalate", reason="国へ")
    do(client, who["helpdesk"], inq["id"], "answer", text="回答")
    entries = client.get("/api/v1/audit", headers=who["admin"], params={"limit": 20}).json()["items"]
    actions = [e["action"] for e in entries if e["target"] == f"inquiry:{inq['id']}"]
    assert sorted(actions) == ["inquiry.answer", "inquiry.escalate", "inquiry.file"]


def test_inquiry_statistics_count_by_tier_state_and_operation(client, who):
    for headers in (who["chiyoda"], who["chuo"], who["sapporo"]):
        file(client, headers)
    escalated = file(client, who["chiyoda"], operation="koseki")
    do(client, who["tokyo"], escalated["id"], "escalate", reason="国へ")
    file(client, who["tokyo"], operation=None, step=None)
    stats = client.get("/api/v1/stats/inquiries", headers=who["viewer"], params={"by": "tier"}).json()
    cells = {c["tier"]: c for c in stats["cells"]}
    assert stats["total"] == {"n_inquiries": 5, "n_bodies": 4, "suppressed": None}
    # national tables: any two askers could swap inquiries without changing a figure, so none is hidden
    assert {
        t: (cells[t]["n_inquiries"], cells[t]["n_bodies"], cells[t]["suppressed"]) for t in ("prefecture", "helpdesk")
    } == {"prefecture": (3, 3, None), "helpdesk": (2, 2, None)}
    by_state = client.get("/api/v1/stats/inquiries", headers=who["viewer"], params={"by": "state"}).json()
    assert {c["state"]: c["n_inquiries"] for c in by_state["cells"]} == {
        "open": 5,
        "awaiting_asker": 0,
        "answered": 0,
        "closed": 0,
    }
    text = client.get("/api/v1/stats/inquiries", headers=who["viewer"], params={"by": "operation"}).text
    assert CHIYODA not in text and "千代田" not in text and TOKYO not in text
    exact = client.get("/api/v1/stats/inquiries", headers=who["viewer"], params={"by": "operation"}).json()
    ops = {c["operation"]: (c["n_inquiries"], c["n_bodies"]) for c in exact["cells"] if c["n_inquiries"]}
    assert ops == {"jumin_kiroku": (3, 3), "koseki": (1, 1), None: (1, 1)}
    assert client.post("/api/v1/stats/inquiries", headers=who["viewer"]).status_code == 405
    assert client.head("/api/v1/stats/inquiries", headers=who["viewer"]).status_code == 200
    assert client.get("/api/v1/stats/inquiries", headers=who["viewer"], params={"by": "body"}).status_code == 422


# --- the demo -----------------------------------------------------------------------------------


def test_demo_inquiries_are_deterministic_and_cover_every_state(client, token_for):
    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.demo.inquiries import generate
    from pmo.models import Inquiry, InquiryEvent

    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)

    def snapshot():
        with session_scope(read_only=True) as s:
            rows = s.execute(
                select(
                    Inquiry.title, Inquiry.state, Inquiry.current_tier, Inquiry.due_at, Inquiry.asker_body_id
                ).order_by(Inquiry.id)
            ).all()
            events = s.execute(select(InquiryEvent.action, InquiryEvent.at).order_by(InquiryEvent.id)).all()
        return rows, events

    with session_scope() as s:
        result = generate(s, seed=5, now=now)
    first = snapshot()
    assert result.inquiries == len(first[0]) > 150 and result.notices == 10 and result.reads > 1000
    assert {(state, tier) for _, state, tier, _, _ in first[0]} == {
        (s, t) for s in ("open", "awaiting_asker", "answered", "closed") for t in ("prefecture", "helpdesk")
    }
    from pmo.accounts import service as accounts

    with session_scope() as s:
        issued = accounts.issue_token(s, accounts.get_account(s, "demo-chiyoda"), actor="test", ttl_days=1)
    chiyoda = {"Authorization": f"Bearer {issued.token}"}
    mine = client.get(API, headers=chiyoda).json()
    assert mine["total"] >= 3 and all(i["asker"]["body"] == CHIYODA for i in mine["items"])
    faq = client.get("/api/v1/faqs", headers=chiyoda, params={"q": "フィットギャップ"}).json()
    assert faq["items"][0]["title"] == "Fit&Gap分析の進め方"
    assert client.get("/api/v1/notices", headers=chiyoda).json()["total"] >= 7
    # the same seed and clock give the same data
    with session_scope() as s:
        from pmo.db import Base

        for table in reversed(Base.metadata.sorted_tables):
            if table.name in (
                "inquiries",
                "inquiry_messages",
                "inquiry_events",
                "faqs",
                "faq_terms",
                "notices",
                "notice_reads",
                "tokens",
                "audit_log",
                "accounts",
            ):
                s.execute(table.delete())
    with session_scope() as s:
        generate(s, seed=5, now=now)
    assert snapshot() == first
