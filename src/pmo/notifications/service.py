"""What each person is told: every message of the outbox is also a notification in the app (read or unread),
and each person chooses per topic whether it is mailed at once, in a daily digest, or not at all. Messages
about the account itself (invitation, reset) are security mails: always mailed, whatever the choice."""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from pmo import periods
from pmo.auth import Principal
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.errors import NotFound
from pmo.models import NotificationPreference, OutboxMessage
from pmo.notifications.schemas import NotificationOut, PreferencesIn, PreferencesOut
from pmo.pagination import Page, PageRequest, fetch_page

TOPICS = {  # topic → what it covers, as the settings page says it
    "inquiries": "問合せの動き（新着・回答・確認依頼・引継ぎ・回付・再開・期限）",
    "notices": "お知らせの発信",
    "reports": "月次報告の期限",
    "advisers": "アドバイザー派遣（担当の決定・派遣の記録）",
}
KIND_TOPICS = {"inquiry": "inquiries", "notice": "notices", "report": "reports", "adviser": "advisers"}
TOPIC_KINDS = {topic: kind for kind, topic in KIND_TOPICS.items()}
MODES = {
    "immediate": "すぐにメールで受け取る",
    "digest": "1日1回まとめてメールで受け取る",
    "off": "メールでは受け取らない（画面の通知のみ）",
}
DELIVERY_OF_MODE = {"immediate": "immediate", "digest": "digest", "off": "none"}
DIGEST = "digest"  # the kind of the daily mail that gathers held messages (not itself a notification)
GONE = "この通知はありません。"


def topic_of(kind: str) -> str | None:
    """The preference a message kind follows; None for security mails (always sent at once)."""
    return KIND_TOPICS.get(kind.split(".", 1)[0])


def delivery_for(session: Session, account_id: int, kind: str) -> str:
    """How a new message of kind to the account is to go out: immediate, digest or none."""
    topic = topic_of(kind)
    if topic is None:
        return "immediate"
    mode = session.scalar(
        select(NotificationPreference.mode).where(
            NotificationPreference.account_id == account_id, NotificationPreference.topic == topic
        )
    )
    return DELIVERY_OF_MODE[mode or "immediate"]


def next_digest(now: datetime) -> datetime:
    """When the next daily digest goes out: PMO_DIGEST_HOUR o'clock Japan time, after now."""
    local = now.astimezone(periods.zone())
    at = local.replace(hour=get_settings().digest_hour, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


def preferences(session: Session, principal: Principal) -> PreferencesOut:
    """The person's choice per topic (immediate where they made none)."""
    chosen = dict(
        session.execute(
            select(NotificationPreference.topic, NotificationPreference.mode).where(
                NotificationPreference.account_id == principal.account_id
            )
        ).all()
    )
    return PreferencesOut.model_validate({"modes": {topic: chosen.get(topic, "immediate") for topic in TOPICS}})


def set_preferences(session: Session, principal: Principal, data: PreferencesIn) -> PreferencesOut:
    """Change the person's choice for the topics given. Messages held for the digest follow the new choice;
    nothing already mailed, and nothing left unmailed by an earlier "off", is sent because of it."""
    now = utcnow()
    for topic, mode in data.modes.items():
        row = session.get(NotificationPreference, (principal.account_id, topic))
        if row is None:
            session.add(NotificationPreference(account_id=principal.account_id, topic=topic, mode=mode))
        else:
            row.mode = mode
        if mode != "digest":
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.account_id == principal.account_id,
                    OutboxMessage.delivery == "digest",
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.kind.like(f"{TOPIC_KINDS[topic]}.%"),
                )
                .values(delivery=DELIVERY_OF_MODE[mode], due_at=now)
            )
    session.flush()
    return preferences(session, principal)


def _out(row: OutboxMessage) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        kind=row.kind,
        topic=topic_of(row.kind),
        subject=row.subject.removeprefix("[pmo] "),
        text=row.text.split("\n\n詳しくはこちら", 1)[0],
        path=row.path,
        created_at=row.created_at,
        read=row.read_at is not None,
        delivery=row.delivery,
    )


def _mine(principal: Principal) -> ColumnElement[bool]:
    return and_(OutboxMessage.account_id == principal.account_id, OutboxMessage.kind != DIGEST)


def listing(
    session: Session, principal: Principal, page: PageRequest, *, unread: bool | None = None
) -> Page[NotificationOut]:
    """The person's notifications, newest first (only unread ones with unread=True)."""
    query = select(OutboxMessage).where(_mine(principal))
    if unread is not None:
        query = query.where(OutboxMessage.read_at.is_(None) if unread else OutboxMessage.read_at.is_not(None))
    return fetch_page(session, query.order_by(OutboxMessage.id.desc()), page, lambda row: _out(row[0]))


def unread_count(session: Session, account_id: int) -> int:
    """How many of the account's notifications are unread (shown beside 通知 on every page)."""
    return (
        session.scalar(
            select(func.count()).where(
                OutboxMessage.account_id == account_id, OutboxMessage.read_at.is_(None), OutboxMessage.kind != DIGEST
            )
        )
        or 0
    )


def mark_read(session: Session, principal: Principal, notification_id: int) -> NotificationOut:
    """Mark one of the person's notifications read (404 for anyone else's)."""
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.id == notification_id, _mine(principal)))
    if row is None:
        raise NotFound(GONE)
    row.read_at = row.read_at or utcnow()
    return _out(row)


def mark_all_read(session: Session, principal: Principal, now: datetime) -> int:
    """Mark every unread notification of the person read; how many were."""
    result = session.execute(
        update(OutboxMessage).where(_mine(principal), OutboxMessage.read_at.is_(None)).values(read_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
