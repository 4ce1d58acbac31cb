"""Delivery of the outbox over SMTP (PMO_SMTP_URL). Each due message is first leased (its next attempt moved
a few minutes ahead in a commit of its own), so two workers never send the same one and no transaction stays
open while a server is slow; it is marked sent in the commit right after the server accepted it. A failure
is retried with exponential backoff; when the server is down the run stops and the rest wait, untouched."""

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from itertools import groupby
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select, update

from pmo.config import get_settings
from pmo.db import session_scope, utcnow
from pmo.models import Account, OutboxMessage
from pmo.notifications import service as notifications
from pmo.outbox.service import enqueue

logger = logging.getLogger("pmo.outbox")
LEASE = timedelta(minutes=5)
LAST_RETRY = timedelta(hours=6)


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # still to send after this run (due later, or not tried because the server was down)


def gather_digests(now: datetime) -> int:
    """Gather each person's messages held for the daily digest, once due, into one digest message (in one
    transaction: the digest exists exactly when its messages are marked sent with it); how many were made."""
    due = (OutboxMessage.delivery == "digest", OutboxMessage.sent_at.is_(None), OutboxMessage.due_at <= now)
    with session_scope(read_only=True) as session:  # most runs find none: no write turn taken for nothing
        if session.scalar(select(OutboxMessage.id).where(*due).limit(1)) is None:
            return 0
    with session_scope() as session:
        held = session.scalars(
            select(OutboxMessage).where(*due).order_by(OutboxMessage.account_id, OutboxMessage.id)
        ).all()
        site, made = get_settings().site_url.rstrip("/"), 0
        for account_id, rows in groupby(held, key=lambda row: row.account_id):
            items = list(rows)
            account = session.get(Account, account_id) if account_id is not None else None
            if account is not None and account.disabled_at is None:
                lines = [f"前回のまとめ以降の通知が {len(items)} 件あります。"]
                for row in items:
                    lines += ["", f"■ {row.subject.removeprefix('[pmo] ')}", row.text.split("\n\n詳しくはこちら", 1)[0]]
                    lines += [f"{site}{row.path}"] if row.path else []
                key = f"{notifications.DIGEST}:{account_id}:{items[-1].id}"
                enqueue(
                    session,
                    account,
                    notifications.DIGEST,
                    key,
                    f"通知のまとめ（{len(items)}件）",
                    lines,
                    "/notifications",
                )
                made += 1
            for row in items:
                row.sent_at = now
    return made


def deliver(limit: int = 1000) -> Delivery:
    """Gather the digests that are due, then send up to limit due messages; without PMO_SMTP_URL send nothing
    (they stay for the outbox page)."""
    url = get_settings().smtp_url
    result = Delivery()
    gather_digests(utcnow())
    if url:
        with session_scope(read_only=True) as session:
            due = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.delivery == "immediate",
                        OutboxMessage.due_at <= utcnow(),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(limit)
                )
            )
        server: smtplib.SMTP | None = None
        try:
            for message_id in due:
                message = _lease(message_id)
                if message is None:
                    continue  # another worker has it, or sent it
                try:
                    server = server or _connect(url)
                    server.send_message(message)
                except (smtplib.SMTPException, OSError) as exc:
                    _failed(message_id, exc)
                    result.failed += 1
                    if server is not None:
                        _quit(server)
                    server = None
                    break  # the server is down or refusing: the rest stay due for the next run
                _sent(message_id)
                result.sent += 1
        finally:
            if server is not None:
                _quit(server)
    with session_scope(read_only=True) as session:
        result.waiting = (
            session.scalar(
                select(func.count()).where(OutboxMessage.sent_at.is_(None), OutboxMessage.delivery != "none")
            )
            or 0
        )
    return result


def _lease(message_id: int) -> EmailMessage | None:
    """Take the message for this run (None when someone else did); its e-mail, ready to send."""
    now = utcnow()
    with session_scope() as session:
        taken = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None), OutboxMessage.due_at <= now)
            .values(due_at=now + LEASE)
            .returning(OutboxMessage.id)
        ).scalar()
        if taken is None:
            return None
        return _email(session.get_one(OutboxMessage, message_id))


def _email(row: OutboxMessage) -> EmailMessage:
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(row.created_at.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain="pmo")  # a resend keeps no secret
    message["X-Pmo-Outbox-Id"] = str(row.id)  # the receiver's way to drop a resend after a crash
    message.set_content(row.text)
    message.add_alternative(row.html, subtype="html")
    return message


def _sent(message_id: int) -> None:
    with session_scope() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(sent_at=utcnow()))


def _failed(message_id: int, exc: Exception) -> None:
    with session_scope() as session:
        row = session.get_one(OutboxMessage, message_id)
        row.attempts += 1
        first = timedelta(seconds=get_settings().outbox_retry_seconds)
        row.due_at = utcnow() + min(first * 2 ** (row.attempts - 1), LAST_RETRY)
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]


def _connect(url: str) -> smtplib.SMTP:
    """A connection to the URL's server: TLS from the start for smtps://, STARTTLS whenever offered."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=20, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(host, parts.port or 25, timeout=20)
        server.ehlo()
        if server.has_extn("starttls"):
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def _quit(server: smtplib.SMTP) -> None:
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()


def keep_delivering(every_seconds: float, stop: threading.Event) -> None:
    """The server's background loop (PMO_OUTBOX_DELIVER_SECONDS): deliver, then wait, until stop is set. Each
    worker may run one; leasing keeps them from sending a message twice. A failed run is logged and retried."""
    while not stop.wait(every_seconds):
        try:
            deliver()
        except Exception:  # the database away for a moment, say: the next run tries again
            logger.exception("outbox delivery run failed")
