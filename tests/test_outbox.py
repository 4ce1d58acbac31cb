"""The outbox (issue 17): a message is written in the transaction of the change that causes it and delivered
over SMTP to a real server (aiosmtpd) — stopped and restarted mid-delivery: nothing lost, nothing sent twice."""

import secrets
import socket
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from pmo.accounts import passwords
from pmo.config import get_settings
from pmo.db import session_scope
from pmo.models import Account, OutboxMessage
from pmo.outbox.delivery import deliver

QUESTION = {
    "title": "標準準拠システムの移行時期",
    "question": "移行時期の考え方を教えてください。",
    "category": "schedule",
}


class Inbox:
    """The SMTP server's side: every message it accepted; while refusing, it answers 421 and keeps none."""

    def __init__(self, accept_at_most: int | None = None) -> None:
        self.messages: list[Message] = []
        self.accept_at_most = accept_at_most

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.accept_at_most is not None and len(self.messages) >= self.accept_at_most:
            return "421 4.3.2 shutting down"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch):
    """PMO_SMTP_URL pointing at a port an aiosmtpd server can be started on (and stopped) by the test."""
    port = free_port()
    monkeypatch.setenv("PMO_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("PMO_OUTBOX_RETRY_SECONDS", "0")  # the test does not wait a minute for a retry
    get_settings.cache_clear()
    yield port
    get_settings.cache_clear()


def start(port: int, inbox: Inbox) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def asker(token_for) -> tuple[dict[str, str], str]:
    """A municipality account of 千代田区 with a sign-in e-mail (messages go to people who have one)."""
    headers = token_for("municipality", "131016")
    email = f"chiyoda-{secrets.token_hex(3)}@city.chiyoda.lg.jp"
    with session_scope() as session:
        account = session.scalars(select(Account).order_by(Account.id.desc()).limit(1)).one()
        passwords.set_password(session, account, email, "chiyoda passphrase 1", actor="test")
    return headers, email


def answered(client, token_for, n: int) -> tuple[str, list[int]]:
    """n inquiries filed by one asker and answered by 東京都, through the API; (the asker's e-mail, ids)."""
    headers, email = asker(token_for)
    tokyo = token_for("prefecture", "130001")
    ids = []
    for i in range(n):
        filed = client.post(
            "/api/v1/inquiries", json={**QUESTION, "title": f"{QUESTION['title']} {i}"}, headers=headers
        )
        assert filed.status_code == 201, filed.text
        ids.append(filed.json()["id"])
        r = client.post(f"/api/v1/inquiries/{ids[-1]}/answer", json={"text": "第4.0版をご覧ください。"}, headers=tokyo)
        assert r.status_code == 200, r.text
    return email, ids


def outbox_of(email: str) -> list[OutboxMessage]:
    with session_scope(read_only=True) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == email)))


def test_an_answer_mails_the_asker_in_japanese_text_and_html(client, token_for, smtp):
    email, [inquiry_id] = answered(client, token_for, 1)
    [kept] = outbox_of(email)
    assert kept.kind == "inquiry.answer" and kept.sent_at is None
    inbox = Inbox()
    controller = start(smtp, inbox)
    try:
        done = deliver()
    finally:
        controller.stop()
    assert (done.sent, done.failed) == (1, 0)
    [mail] = inbox.messages
    assert mail["To"] == email and "問合せに回答がありました" in str(mail["Subject"])
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    assert f"/inquiries/{inquiry_id}" in parts["text/plain"] and "回答がありました" in parts["text/plain"]
    html = parts["text/html"]
    assert f'/inquiries/{inquiry_id}">' in html and "src=" not in html and "<link" not in html  # no outside assets
    assert outbox_of(email)[0].sent_at is not None
    assert deliver().sent == 0  # delivered once: a second run sends nothing


def test_a_refused_change_writes_no_message(client, token_for, smtp):
    headers, email = asker(token_for)
    filed = client.post("/api/v1/inquiries", json=QUESTION, headers=headers).json()
    other = token_for("prefecture", "270008")  # 大阪府: not this inquiry's tier
    r = client.post(f"/api/v1/inquiries/{filed['id']}/answer", json={"text": "回答"}, headers=other)
    assert r.status_code in (403, 404)
    assert outbox_of(email) == []


def test_smtp_stopped_and_restarted_mid_delivery_loses_nothing_and_sends_nothing_twice(client, token_for, smtp):
    email, _ = answered(client, token_for, 12)
    inbox = Inbox(accept_at_most=5)  # accepts five, then refuses as a server going down does
    controller = start(smtp, inbox)
    first = deliver()
    controller.stop()
    assert (first.sent, first.failed, first.waiting) == (5, 1, 7)
    down = deliver()  # nobody listening: connection refused
    assert (down.sent, down.failed, down.waiting) == (0, 1, 7)
    inbox.accept_at_most = None
    controller = start(smtp, inbox)
    try:
        last = deliver()
    finally:
        controller.stop()
    assert (last.sent, last.failed, last.waiting) == (7, 0, 0)
    delivered = [int(m["X-Pmo-Outbox-Id"]) for m in inbox.messages]
    rows = outbox_of(email)
    assert sorted(delivered) == sorted(r.id for r in rows) and len(set(delivered)) == 12  # 0 lost, 0 twice
    assert all(r.sent_at is not None for r in rows)
    retried = [r for r in rows if r.attempts]
    assert retried and all(r.last_error for r in retried)


def test_without_smtp_messages_are_kept(client, token_for, monkeypatch):
    monkeypatch.delenv("PMO_SMTP_URL", raising=False)
    get_settings.cache_clear()
    email, _ = answered(client, token_for, 2)
    done = deliver()
    assert done.sent == 0 and done.waiting >= 2
    assert len(outbox_of(email)) == 2 and all(r.sent_at is None for r in outbox_of(email))


def test_admins_see_the_outbox_on_a_page(client, token_for, monkeypatch):
    from tests.test_dashboard import sign_in

    monkeypatch.delenv("PMO_SMTP_URL", raising=False)
    get_settings.cache_clear()
    email, _ = answered(client, token_for, 1)
    sign_in(client, token_for("admin"))
    page = client.get("/outbox")
    assert page.status_code == 200 and "PMO_SMTP_URL" in page.text
    assert email in page.text and "問合せに回答がありました" in page.text and "未送信" in page.text
    sign_in(client, token_for("helpdesk"))
    assert client.get("/outbox").status_code == 403


def test_a_notice_is_mailed_to_its_audience_only(client, token_for, smtp):
    _, chiyoda = asker(token_for)  # 千代田区, a municipality of 東京都
    token_for("municipality", "271004")  # 大阪市: not in the audience
    osaka = f"osaka-{secrets.token_hex(3)}@city.osaka.lg.jp"
    with session_scope() as session:
        account = session.scalars(select(Account).order_by(Account.id.desc()).limit(1)).one()
        passwords.set_password(session, account, osaka, "osaka passphrase 1", actor="test")
    notice = {"title": "東京都内の説明会", "body": "日程をお知らせします。", "category": "event"}
    notice |= {"audience": "prefecture_municipalities", "prefecture": "13"}
    r = client.post("/api/v1/notices", json=notice, headers=token_for("helpdesk"))
    assert r.status_code == 201, r.text
    [mail] = outbox_of(chiyoda)
    assert mail.kind == "notice.published" and f"/notices/{r.json()['id']}" in mail.text
    assert outbox_of(osaka) == []


def test_the_servers_own_loop_delivers_when_asked_to(token_for, smtp, monkeypatch):
    """PMO_OUTBOX_DELIVER_SECONDS: each worker delivers by itself, no cron needed."""
    import time

    from fastapi.testclient import TestClient

    from pmo.app import create_app

    monkeypatch.setenv("PMO_OUTBOX_DELIVER_SECONDS", "1")
    get_settings.cache_clear()
    inbox = Inbox()
    controller = start(smtp, inbox)
    try:
        with TestClient(create_app()) as client:
            email, _ = answered(client, token_for, 1)
            deadline = time.time() + 15
            while not inbox.messages and time.time() < deadline:
                time.sleep(0.2)
    finally:
        controller.stop()
    assert [m["To"] for m in inbox.messages] == [email]
    assert outbox_of(email)[0].sent_at is not None
