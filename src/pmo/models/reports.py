"""Monthly reports: revisions (one per submission), the cells each changed, every body's current cells,
period summaries and idempotency keys. History is never overwritten: a cell as of a period is its
newest change ordered by (period, revision_id) with period ≤ that period."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime


class ReportRevision(Base):
    """One submission of a body for a period; revision counts 1, 2, … within (body, period)."""

    __tablename__ = "report_revisions"
    __table_args__ = (
        UniqueConstraint("body_id", "period", "revision"),
        Index("ix_report_revisions_period_submitted_at", "period", "submitted_at"),  # a period's newest report
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"))
    period: Mapped[int] = mapped_column(Integer, comment="yyyymm")
    revision: Mapped[int] = mapped_column(SmallInteger)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    submitted_by: Mapped[str] = mapped_column(String(80))
    late: Mapped[bool] = mapped_column(Boolean)
    n_changed: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8), comment="api, csv, xlsx or demo")


class RevisionCells(Base):
    """The cells one revision changed, packed (pmo.reports.cellgrid); a revision that changed nothing has none.
    Replaying a body's rows in (period, revision_id) order gives its grid as of any period."""

    __tablename__ = "revision_cells"
    __table_args__ = ({"sqlite_with_rowid": False},)

    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"), primary_key=True)
    cells: Mapped[bytes] = mapped_column(LargeBinary, comment="packed changes: positions, statuses, months, notes")


class BodyCells(Base):
    """Every cell of a body as of its newest report, packed: what submissions and current reads start from."""

    __tablename__ = "body_cells"

    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"), comment="the newest revision applied")
    cells: Mapped[bytes] = mapped_column(LargeBinary, comment="packed grid: statuses, months, notes, last change")


class IdempotencyKey(Base):
    """The answer given to a submission with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_keys"

    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BodyPeriod(Base):
    """A body's report for one period in summary: whether and when it reported, and every cell's
    status as of that period (a compressed byte grid), so statistics never scan cell history."""

    __tablename__ = "body_periods"
    __table_args__ = (Index("ix_body_periods_period", "period"),)

    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    revisions: Mapped[int] = mapped_column(SmallInteger)
    first_submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, comment="the period's first revision came after its due time")
    last_revision_id: Mapped[int] = mapped_column(Integer)
    statuses: Mapped[bytes] = mapped_column(
        LargeBinary, comment="zlib; byte (op_id-1)*40+(step_id-1) = status, 0 = n/a"
    )
