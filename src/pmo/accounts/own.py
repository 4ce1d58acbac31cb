"""What a person manages about their own account: the sessions signed in as them (to end any of them),
personal API tokens (named, with an expiry, shown once), and their password."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pmo import audit
from pmo.accounts import passwords
from pmo.accounts.passwords import SIGN_IN_PREFIX
from pmo.auth import Principal, hash_token, new_token
from pmo.db import utcnow
from pmo.errors import InvalidInput, NotFound
from pmo.models import Account, PageSession, Token
from pmo.text import SingleLine

MAX_TOKENS = 10  # live personal tokens one person may hold


class TokenIn(BaseModel):
    """A personal token to make: what it is for, and for how many days."""

    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, Field(min_length=1, max_length=60), SingleLine]
    days: int = Field(90, ge=1, le=365)


@dataclass
class OwnSession:
    id: int
    created_at: datetime
    expires_at: datetime
    by_password: bool
    current: bool


@dataclass
class OwnToken:
    id: int
    label: str | None
    prefix: str
    created_at: datetime
    expires_at: datetime


def sessions(session: Session, principal: Principal, current_token_id: int | None) -> list[OwnSession]:
    """The account's live page sessions, newest first; current marks those of this browser's token."""
    now = utcnow()
    rows = session.execute(
        select(PageSession.id, PageSession.created_at, PageSession.expires_at, Token.prefix, Token.id)
        .join(Token, Token.id == PageSession.token_id)
        .where(
            Token.account_id == principal.account_id,
            Token.revoked_at.is_(None),
            PageSession.ended_at.is_(None),
            PageSession.expires_at > now,
        )
        .order_by(PageSession.id.desc())
    )
    return [
        OwnSession(i, c, e, prefix == SIGN_IN_PREFIX, token_id == current_token_id)
        for i, c, e, prefix, token_id in rows
    ]


def end_session(session: Session, principal: Principal, session_id: int) -> None:
    """End one of the account's sessions (404 for anyone else's); a password session's token goes with it."""
    row = session.execute(
        select(PageSession, Token)
        .join(Token, Token.id == PageSession.token_id)
        .where(PageSession.id == session_id, Token.account_id == principal.account_id, PageSession.ended_at.is_(None))
    ).first()
    if row is None:
        raise NotFound("このセッションはありません（すでに終了しています）。")
    page, token = row
    page.ended_at = utcnow()
    if token.prefix == SIGN_IN_PREFIX:
        token.revoked_at = page.ended_at
    audit.record(session, principal, "session.end", f"account:{principal.name}", {"session_id": session_id})


def tokens(session: Session, principal: Principal) -> list[OwnToken]:
    """The account's live tokens other than sign-in ones (personal and operator-issued), newest first."""
    rows = session.scalars(
        select(Token)
        .where(
            Token.account_id == principal.account_id,
            Token.prefix != SIGN_IN_PREFIX,
            Token.revoked_at.is_(None),
            Token.expires_at > utcnow(),
        )
        .order_by(Token.id.desc())
    )
    return [OwnToken(t.id, t.label, t.prefix, t.created_at, t.expires_at) for t in rows]


def create_token(session: Session, principal: Principal, data: TokenIn) -> str:
    """A new personal token for the caller; its plain text, shown once and never stored."""
    if len(tokens(session, principal)) >= MAX_TOKENS:
        raise InvalidInput.at(
            ["label"], f"有効なトークンは {MAX_TOKENS} 個までです。使わないものを失効させてください。"
        )
    plain = new_token()
    now = utcnow()
    token = Token(
        account_id=principal.account_id,
        token_hash=hash_token(plain),
        prefix=plain[:12],
        label=data.label,
        created_at=now,
        expires_at=now + timedelta(days=data.days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session, principal, "token.create", f"account:{principal.name}", {"token_id": token.id, "label": data.label}
    )
    return plain


def revoke_token(session: Session, principal: Principal, token_id: int) -> None:
    """Revoke one of the caller's tokens (404 for anyone else's); its sessions end with it."""
    done = session.execute(
        update(Token)
        .where(Token.id == token_id, Token.account_id == principal.account_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(Token.id)
    ).scalar()
    if done is None:
        raise NotFound("このトークンはありません（すでに失効しています）。")
    audit.record(session, principal, "token.revoke", f"account:{principal.name}", {"token_id": token_id})


def change_password(session: Session, principal: Principal, current: str, new: str) -> None:
    """A new password for the caller, who proves the current one; every other password session ends."""
    account = session.get_one(Account, principal.account_id)
    if not account.password_hash or not account.email:
        raise InvalidInput.at(["current"], "このアカウントにはパスワードがありません。管理者に招待を依頼してください。")
    try:
        passwords.hasher.verify(account.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise InvalidInput.at(["current"], "現在のパスワードが正しくありません。") from None
    passwords.set_password(session, account, account.email, new, actor=principal)


def signed_in_by_password(session: Session, principal: Principal) -> bool:
    """Whether the caller's token is a password session's own."""
    return session.scalar(select(Token.prefix).where(Token.id == principal.token_id)) == SIGN_IN_PREFIX
