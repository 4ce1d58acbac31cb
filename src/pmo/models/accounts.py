"""Accounts, their bearer tokens and page sessions (stored only as hashes), and the audit log of every write."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from pmo.db import Base, UTCDateTime

ROLES = ("municipality", "prefecture", "helpdesk", "admin", "viewer", "vendor", "ministry")


class Account(Base):
    """A person or system that signs in; bound to a body for municipality and prefecture roles."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    organization: Mapped[str | None] = mapped_column(String(120), comment="vendor company or ministry")
    operations: Mapped[list[str] | None] = mapped_column(JSON, comment="operation codes a vendor supplies")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(String(254), unique=True, comment="sign-in name, lower-cased")
    password_hash: Mapped[str | None] = mapped_column(String(200), comment="argon2id; never the password")
    totp_secret: Mapped[str | None] = mapped_column(String(64), comment="TOTP key (in use once totp_enabled_at)")
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, comment="a code's time step is accepted once")
    recovery_hashes: Mapped[list[str] | None] = mapped_column(JSON, comment="SHA-256 of unused recovery codes")
    administrator: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="manages the accounts of its body (a prefecture: also its municipalities' administrators)",
    )


class Token(Base):
    """A bearer token; only its SHA-256 is kept, with a short prefix so an operator can name it."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(60), comment="the name a person gave a personal token")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PageSession(Base):
    """A signed-in browser: the cookie carries a random key whose SHA-256 is kept here, so sign-out ends
    the session on the server (a copied cookie stops working) and a revoked token ends all of its own."""

    __tablename__ = "page_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what, when: one row per write, in the write's own transaction."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccountLink(Base):
    """A one-time link sent by e-mail to set a password: an invitation or a reset (only its hash is kept)."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10), comment="invite or reset")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
