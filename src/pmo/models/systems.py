"""The systems register: per body and operation, vendor, go-live and the 特定移行支援システム flag."""

from datetime import datetime
from typing import get_args

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime
from pmo.systems.schemas import DeferralReason

DEFERRAL_REASONS: tuple[DeferralReason, ...] = get_args(DeferralReason)


class System(Base):
    """The current record of one body's system for one operation."""

    __tablename__ = "systems"

    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(120))
    planned_go_live: Mapped[int | None] = mapped_column(Integer, comment="yyyymm")
    deferred: Mapped[bool] = mapped_column(Boolean, default=False, comment="特定移行支援システム")
    deferral_reason: Mapped[DeferralReason | None] = mapped_column(String(30))
    deferral_target: Mapped[int | None] = mapped_column(Integer, comment="yyyymm the migration is now aimed at")
    note: Mapped[str | None] = mapped_column(String(1000))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))


class SystemVersion(Base):
    """Every state a system record has had (nothing is overwritten)."""

    __tablename__ = "system_versions"
    __table_args__ = (Index("ix_system_versions_body_operation", "body_id", "operation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"))
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"))
    version: Mapped[int] = mapped_column(Integer)
    vendor: Mapped[str | None] = mapped_column(String(120))
    planned_go_live: Mapped[int | None] = mapped_column(Integer)
    deferred: Mapped[bool] = mapped_column(Boolean)
    deferral_reason: Mapped[DeferralReason | None] = mapped_column(String(30))
    deferral_target: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(1000))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(80))
