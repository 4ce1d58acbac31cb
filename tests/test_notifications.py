"""Notifications (issue 17): every message is also an in-app notification with an unread count; each person
chooses per topic immediate, daily digest or off (security mails always go at once); inquiries tell the tier
whose queue they reach, deadlines tomorrow and missed; adviser assignments and visits tell the body. Through
the API and pages, with a real SMTP server (aiosmtpd) for what is mailed."""

import secrets
from datetime import timedelta

from sqlalchemy import select

from pmo import periods
from pmo.accounts import passwords
from pmo.db import session_scope, utcnow
from pmo.models import Account, Inquiry, OutboxMessage
from pmo.outbox.delivery import deliver, gather_digests
from tests.test_dashboard import sign_in
from tests.test_outbox import (
    QUESTION,
    Inbox,
    smtp,  # noqa: F401 — the SMTP fixture
    start,
)
from tests.test_reminders import kinds_for
from tests.test_support_pages import post_form

API = "/api/v1"
CHIYODA, TOKYO = "131016", "130001"


def person(token_for, role: str, body: str | None = None) -> tuple[dict[str, str], str]:
    """A fresh account of role with a sign-in e-mail (messages go to people who have one)."""
    headers = token_for(role, body)
    email = f"{role}-{secrets.token_hex(3)}@example.lg.jp"
    with session_scope() as session:
        account = session.scalars(select(Account).order_by(Account.id.desc()).limit(1)).one()
        passwords.set_password(session, account, email, "notification passphrase", actor="test")
    return headers, email


def file(client, headers) -> int:
    r = client.post(f"{API}/inquiries", json=QUESTION, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_new_inquiry_reaches_its_tier_as_an_unread_notification_and_opening_it_marks_it_read(client, token_for):
    asker, _ = person(token_for, "municipality", CHIYODA)
    tokyo, tokyo_email = person(token_for, "prefecture", TOKYO)
    _, hokkaido_email = person(token_for, "prefecture", "010006")
    inquiry_id = file(client, asker)
    assert kinds_for(tokyo_email) == ["inquiry.queued"] and kinds_for(hokkaido_email) == []

    listed = client.get(f"{API}/notifications", headers=tokyo).json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["read"] is False and item["path"] == f"/inquiries/{inquiry_id}"
    assert "新しい問合せが届きました" in item["subject"] and QUESTION["title"] in item["text"]
    assert client.get(f"{API}/notifications", headers=asker).json()["total"] == 0  # not the asker's to see
    assert client.post(f"{API}/notifications/{item['id']}/read", headers=asker).status_code == 404

    sign_in(client, tokyo)
    page = client.get("/notifications")
    assert '<span class="count">1<span class="visually-hidden">件の未読</span>' in page.text
    opened = post_form(client, "/notifications", f"/notifications/{item['id']}/open", {})
    assert opened.status_code == 303 and opened.headers["location"] == f"/inquiries/{inquiry_id}"
    assert 'class="count"' not in client.get("/notifications").text
    assert client.get(f"{API}/notifications", headers=tokyo, params={"unread": True}).json()["total"] == 0


def test_escalation_routing_and_reopening_tell_the_tier_that_now_has_it(client, token_for):
    asker, asker_email = person(token_for, "municipality", CHIYODA)
    tokyo, _ = person(token_for, "prefecture", TOKYO)
    helpdesk, helpdesk_email = person(token_for, "helpdesk")
    soumu, soumu_email = person(token_for, "ministry")  # 総務省
    inquiry_id = file(client, asker)
    r = client.post(f"{API}/inquiries/{inquiry_id}/escalate", json={"reason": "国の解釈が必要"}, headers=tokyo)
    assert r.status_code == 200, r.text
    assert kinds_for(helpdesk_email) == ["inquiry.queued"] and kinds_for(soumu_email) == []
    route = {"ministry": "総務省", "reason": "所管の解釈"}
    assert client.post(f"{API}/inquiries/{inquiry_id}/route", json=route, headers=helpdesk).status_code == 200
    assert kinds_for(soumu_email) == ["inquiry.queued"]
    answer = {"text": "標準仕様書のとおりです。"}
    assert client.post(f"{API}/inquiries/{inquiry_id}/answer", json=answer, headers=soumu).status_code == 200
    reopen = {"reason": "追加で確認させてください"}
    assert client.post(f"{API}/inquiries/{inquiry_id}/reopen", json=reopen, headers=asker).status_code == 200
    assert kinds_for(soumu_email) == ["inquiry.queued", "inquiry.reopened"]
    assert kinds_for(asker_email) == ["inquiry.answer", "inquiry.escalate", "inquiry.route"]


def test_off_keeps_the_notification_but_sends_no_mail_and_security_mail_still_goes(client, token_for, smtp):  # noqa: F811
    asker, asker_email = person(token_for, "municipality", CHIYODA)
    tokyo = token_for("prefecture", TOKYO)
    r = client.put(f"{API}/notifications/preferences", json={"modes": {"inquiries": "off"}}, headers=asker)
    assert r.status_code == 200 and r.json()["modes"] == {
        "inquiries": "off",
        "notices": "immediate",
        "reports": "immediate",
        "advisers": "immediate",
    }
    inquiry_id = file(client, asker)
    assert (
        client.post(f"{API}/inquiries/{inquiry_id}/answer", json={"text": "回答です。"}, headers=tokyo).status_code
        == 200
    )
    from pmo.accounts import links

    with session_scope() as session:
        links.send_reset(
            session, session.scalars(select(Account).where(Account.email == asker_email)).one(), actor="test"
        )
    inbox = Inbox()
    controller = start(smtp, inbox)
    try:
        deliver()
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["[pmo] パスワードの再設定"]
    items = client.get(f"{API}/notifications", headers=asker).json()["items"]
    assert [(i["kind"], i["delivery"]) for i in items] == [("account.reset", "immediate"), ("inquiry.answer", "none")]
    bad = client.put(f"{API}/notifications/preferences", json={"modes": {"inquiries": "weekly"}}, headers=asker)
    assert bad.status_code == 422


def test_the_daily_digest_gathers_held_messages_into_one_mail_at_the_digest_hour(client, token_for, smtp):  # noqa: F811
    asker, asker_email = person(token_for, "municipality", CHIYODA)
    tokyo = token_for("prefecture", TOKYO)
    assert (
        client.put(
            f"{API}/notifications/preferences", json={"modes": {"inquiries": "digest"}}, headers=asker
        ).status_code
        == 200
    )
    ids = [file(client, asker) for _ in range(2)]
    for inquiry_id in ids:
        assert (
            client.post(f"{API}/inquiries/{inquiry_id}/answer", json={"text": "回答です。"}, headers=tokyo).status_code
            == 200
        )
    inbox = Inbox()
    controller = start(smtp, inbox)
    try:
        deliver()
        assert inbox.messages == []  # held until the digest hour
        with session_scope(read_only=True) as session:
            due = session.scalars(select(OutboxMessage.due_at).where(OutboxMessage.recipient == asker_email)).all()
        assert len(due) == 2 and all(d > utcnow() and d.astimezone(periods.zone()).hour == 8 for d in due)
        assert gather_digests(max(due) + timedelta(seconds=1)) == 1
        assert gather_digests(max(due) + timedelta(seconds=1)) == 0  # gathered once
        deliver()
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    digest = inbox.messages[0]
    assert digest["Subject"] == "[pmo] 通知のまとめ（2件）"
    body = digest.get_body(("plain",)).get_content()
    assert all(f"/inquiries/{i}" in body for i in ids) and "/notifications#settings" in body
    items = client.get(f"{API}/notifications", headers=asker).json()["items"]
    assert [i["kind"] for i in items] == ["inquiry.answer", "inquiry.answer"]  # the digest is no notification


def test_deadlines_tomorrow_and_missed_are_told_to_the_tier_once(client, token_for):
    asker, _ = person(token_for, "municipality", CHIYODA)
    _, tokyo_email = person(token_for, "prefecture", TOKYO)
    _, admin_email = person(token_for, "admin")
    inquiry_id = file(client, asker)
    from pmo.outbox.reminders import remind

    with session_scope(read_only=True) as session:
        due = session.get_one(Inquiry, inquiry_id).due_at
    for at, expected in (
        (due - timedelta(days=10), ["inquiry.queued"]),
        (due - timedelta(hours=2), ["inquiry.due_tomorrow", "inquiry.queued"]),
        (due - timedelta(hours=1), ["inquiry.due_tomorrow", "inquiry.queued"]),  # once
        (due + timedelta(hours=1), ["inquiry.due_tomorrow", "inquiry.overdue", "inquiry.queued"]),
        (due + timedelta(hours=5), ["inquiry.due_tomorrow", "inquiry.overdue", "inquiry.queued"]),
    ):
        with session_scope() as session:
            remind(session, at)
        assert [k for k in kinds_for(tokyo_email) if k.startswith("inquiry.")] == expected, at
    assert kinds_for(admin_email) == []  # a prefecture's queue stays the prefecture's


def test_an_adviser_assigned_and_a_visit_recorded_are_told_to_the_body(client, token_for):
    chiyoda, chiyoda_email = person(token_for, "municipality", CHIYODA)
    helpdesk = token_for("helpdesk")
    made = client.post(f"{API}/bodies/{CHIYODA}/adviser-requests", json={"topic": "移行計画の見直し"}, headers=chiyoda)
    assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    r = client.post(f"{API}/adviser-requests/{request_id}/assign", json={"adviser": "標準 太郎"}, headers=helpdesk)
    assert r.status_code == 200, r.text
    visit = {
        "visited_on": (periods.today() - timedelta(days=1)).isoformat(),
        "mode": "onsite",
        "summary": "計画を確認",
    }
    assert client.post(f"{API}/adviser-requests/{request_id}/visits", json=visit, headers=helpdesk).status_code == 200
    assert kinds_for(chiyoda_email) == ["adviser.assign", "adviser.visit"]
