"""The outbox: every message is written in the transaction of the change that causes it, then delivered."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime

DELIVERIES = ("immediate", "digest", "none")  # mailed at once, held for the daily digest, never mailed


class OutboxMessage(Base):
    """One message to one person: the in-app notification and, unless they chose otherwise, its e-mail, kept
    until delivered (and after, as the record of what was sent)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "sent_at", "due_at"),
        Index("ix_outbox_unread", "account_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), comment="inquiry.answer, notice.published, …")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True, comment="one message per event and person")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, comment="next delivery attempt")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivery: Mapped[str] = mapped_column(String(10), default="immediate", server_default="immediate")
    path: Mapped[str | None] = mapped_column(String(300), comment="the page the message is about")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, comment="read in the app's notification list")


class NotificationPreference(Base):
    """How a person wants one topic of messages: immediate, digest (once a day) or off (in the app only)."""

    __tablename__ = "notification_preferences"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(20), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
