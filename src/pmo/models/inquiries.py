"""Inquiries (問合せ): the question, its messages (public or internal to a tier) and every transition.

Who handles an inquiry is its current tier; the asker is an account (and, for bodies, its body).
asker_body_id is nullable and the tier a plain string so that askers without a body and further
tiers can be added without reshaping the table."""

from datetime import datetime
from typing import get_args

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime
from pmo.inquiries.schemas import Category, EventAction, MessageKind, Party, State, Tier, Visibility

INQUIRY_STATES: tuple[State, ...] = get_args(State)
TIERS: tuple[Tier, ...] = get_args(Tier)
VISIBILITIES: tuple[Visibility, ...] = get_args(Visibility)


class Inquiry(Base):
    """One question and where it stands: state, the tier handling it, and that tier's due time."""

    __tablename__ = "inquiries"
    __table_args__ = (
        # the queues: scope (and state), then due time — the page and its count are read from the index alone
        # (id is the rowid in SQLite; PostgreSQL needs it in the index for an index-only scan)
        Index("ix_inquiries_prefecture_queue", "prefecture_code", "state", "due_at", "id"),
        # the helpdesk's whole queue in due order: a partial index walked in order, stopping after a page
        Index(
            "ix_inquiries_helpdesk_queue",
            "due_at",
            "id",
            postgresql_where=text("helpdesk_since IS NOT NULL"),
            sqlite_where=text("helpdesk_since IS NOT NULL"),
        ),
        Index("ix_inquiries_helpdesk_state_queue", "state", "helpdesk_since", "due_at", "id"),
        Index("ix_inquiries_asker_queue", "asker_body_id", "state", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    category: Mapped[Category] = mapped_column(String(30))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    asker_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    asker_role: Mapped[str] = mapped_column(String(20))
    asker_body_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    prefecture_code: Mapped[str | None] = mapped_column(String(2), comment="the prefecture tier it belongs to")
    current_tier: Mapped[Tier] = mapped_column(String(20))
    state: Mapped[State] = mapped_column(String(20))
    helpdesk_since: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="escalated or addressed to the helpdesk"
    )
    routed_to: Mapped[str | None] = mapped_column(
        String(40), index=True, comment="the ministry the helpdesk routed it to"
    )
    tier_since: Mapped[datetime] = mapped_column(UTCDateTime, comment="when the current tier's clock started")
    due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="the current tier's due time (null once settled)"
    )
    assignee_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id"),
        index=True,
        comment="the person of the current tier working it (cleared when the tier changes)",
    )
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, comment="waiting on the asker since")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InquiryMessage(Base):
    """A message on an inquiry; visibility is public or the tier it is internal to."""

    __tablename__ = "inquiry_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id"), index=True)
    author_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    author_name: Mapped[str] = mapped_column(String(120))
    author_party: Mapped[Party] = mapped_column(String(20), comment="asker, prefecture or helpdesk")
    kind: Mapped[MessageKind] = mapped_column(String(20), comment="comment, answer, ask_back, reply, reopen")
    visibility: Mapped[Visibility] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InquiryEvent(Base):
    """One transition of the state machine: who, when, from, to, and a note (e.g. the escalation reason)."""

    __tablename__ = "inquiry_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("inquiries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[EventAction] = mapped_column(String(20))
    from_state: Mapped[State | None] = mapped_column(String(20))
    to_state: Mapped[State] = mapped_column(String(20))
    from_tier: Mapped[Tier | None] = mapped_column(String(20))
    to_tier: Mapped[Tier] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class SavedFilter(Base):
    """A queue filter a person named and keeps (the query string of the inquiry queue page)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_saved_filters_account_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
