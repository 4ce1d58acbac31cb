"""Follow-ups: a prefecture's record of hearing from or advising one of its municipalities."""

from datetime import date, datetime
from typing import get_args

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime
from pmo.followups.schemas import Channel, DelayCause

CHANNELS: tuple[Channel, ...] = get_args(Channel)
DELAY_CAUSES: tuple[DelayCause, ...] = get_args(DelayCause)


class FollowUp(Base):
    """One hearing or advice; shared_with_national is the only way row-level detail moves upward."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_shared", "shared_with_national", "held_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[Channel] = mapped_column(String(20))
    learned: Mapped[str] = mapped_column(Text)
    agreed_actions: Mapped[str | None] = mapped_column(Text)
    next_check_on: Mapped[date | None] = mapped_column(Date)
    shared_with_national: Mapped[bool] = mapped_column(Boolean)
    delay_cause: Mapped[DelayCause | None] = mapped_column(String(30))
    delay_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, comment="when the agreed actions were confirmed")
    done_by: Mapped[str | None] = mapped_column(String(80))
    done_note: Mapped[str | None] = mapped_column(Text)
