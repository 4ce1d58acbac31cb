"""Adviser support (アドバイザー派遣): requests from a body or its prefecture, and the visits made."""

from datetime import date, datetime
from typing import get_args

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.advisers.schemas import State, VisitMode
from pmo.db import Base, UTCDateTime

ADVISER_STATES: tuple[State, ...] = get_args(State)


class AdviserRequest(Base):
    """A request for an adviser; sharing it with the national tier is the requester's own act."""

    __tablename__ = "adviser_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    requester_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    requester_role: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(80))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    topic: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    operations: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[State] = mapped_column(String(20), index=True)
    adviser: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AdviserVisit(Base):
    """One visit (on site or online) made for a request."""

    __tablename__ = "adviser_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("adviser_requests.id"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[VisitMode] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
