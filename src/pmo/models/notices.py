"""Notices (情報提供) from the national tier to an audience of bodies, and which bodies have read them."""

from datetime import datetime
from typing import get_args

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime
from pmo.notices.schemas import Audience, NoticeCategory

NOTICE_AUDIENCES: tuple[Audience, ...] = get_args(Audience)


class Notice(Base):
    """One notice; audience_prefecture_code is set only for one prefecture's municipalities."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[NoticeCategory] = mapped_column(String(30))
    audience: Mapped[Audience] = mapped_column(String(30))
    audience_prefecture_code: Mapped[str | None] = mapped_column(String(2))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"))
    faq_id: Mapped[int | None] = mapped_column(ForeignKey("faqs.id"))
    inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_by: Mapped[str] = mapped_column(String(80))
    publisher: Mapped[str] = mapped_column(String(40), server_default="デジタル庁", comment="publishing organisation")


class NoticeRead(Base):
    """A body has read a notice (the first of its accounts to mark it)."""

    __tablename__ = "notice_reads"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
