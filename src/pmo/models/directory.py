"""Master data: bodies, operations, steps (loaded by `pmo seed`, never by a migration)."""

from typing import get_args

from sqlalchemy import Boolean, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base
from pmo.directory.schemas import BodyKind

BODY_KINDS: tuple[BodyKind, ...] = get_args(BodyKind)


class Body(Base):
    """A local public body; id is its 6-digit code as an integer, so it never changes."""

    __tablename__ = "bodies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    prefecture_name: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(40))
    name_kana: Mapped[str] = mapped_column(String(80))
    kind: Mapped[BodyKind] = mapped_column(String(20), index=True)

    @property
    def is_prefecture(self) -> bool:
        return self.kind == "prefecture"


class Operation(Base):
    """A standardized operation (業務); code is the stable key, the rest are labels."""

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    order: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(80))
    short_name: Mapped[str] = mapped_column(String(40))
    ministry: Mapped[str] = mapped_column(String(40))
    for_municipalities: Mapped[bool] = mapped_column(Boolean)
    for_prefectures: Mapped[bool] = mapped_column(Boolean)


class Step(Base):
    """One of the 40 migration steps; code (S01–S40) is the stable key, the rest are labels."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    order: Mapped[int] = mapped_column(SmallInteger)
    phase: Mapped[str] = mapped_column(String(40))
    group_name: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(120))
