"""FAQ entries and their search index (character bigrams and words, see pmo.faqs.text)."""

from datetime import datetime
from typing import get_args

from sqlalchemy import Float, ForeignKey, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime
from pmo.faqs.schemas import FaqStatus
from pmo.inquiries.schemas import Category

FAQ_STATUSES: tuple[FaqStatus, ...] = get_args(FaqStatus)


class Faq(Base):
    """One question and answer; only published entries are shown to bodies."""

    __tablename__ = "faqs"

    # the small columns first: ranking reads them row by row, and SQLite would walk past long text to reach them
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[FaqStatus] = mapped_column(String(20), index=True)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    category: Mapped[Category | None] = mapped_column(String(30))
    length: Mapped[float] = mapped_column(Float, comment="weighted number of indexed terms (BM25 document length)")
    source_inquiry_id: Mapped[int | None] = mapped_column(ForeignKey("inquiries.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    publisher: Mapped[str] = mapped_column(String(40), server_default="デジタル庁", comment="publishing organisation")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)


class FaqTerm(Base):
    """How often (weighted by field) a normalised term occurs in an entry, with the entry's length
    (BM25 needs both, and ranking then reads only this table); rewritten on every save of the entry."""

    __tablename__ = "faq_terms"
    # Postings of a term sit together: SQLite stores the rows in key order (WITHOUT ROWID); PostgreSQL
    # carries weight and length in the key's index, so ranking is an index-only scan there too.
    __table_args__ = (
        PrimaryKeyConstraint("term", "faq_id", postgresql_include=["weight", "length"]),
        {"sqlite_with_rowid": False},
    )

    term: Mapped[str] = mapped_column(String(40))
    faq_id: Mapped[int] = mapped_column(ForeignKey("faqs.id"), index=True)
    weight: Mapped[float] = mapped_column(Float)
    length: Mapped[float] = mapped_column(Float, comment="the entry's length, as in faqs.length")
