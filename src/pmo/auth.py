"""Bearer tokens: generation, hashing, and turning a request's token into a Principal."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

from pmo.db import utcnow
from pmo.errors import Unauthenticated
from pmo.models import Account, Body, Token
from pmo.throttle import failures, keys_for

TOKEN_PREFIX = "pmo_"  # noqa: S105 — the public prefix of every token, not a secret


@dataclass(frozen=True)
class Principal:
    """The caller of a request: an account, its role and, for bodies, the body it is bound to."""

    account_id: int
    name: str
    role: str
    body_id: int | None = None
    body_code: str | None = None
    prefecture_code: str | None = None
    token_id: int | None = None
    organization: str | None = None  # a vendor's company or a ministry (総務省 …)
    administrator: bool = False  # manages the accounts of its scope (pmo.accounts.administration)

    def owns(self, body: Body) -> bool:
        """True when the caller is the body itself."""
        return self.body_id == body.id

    def oversees(self, body: Body) -> bool:
        """True when the caller is the prefecture of a municipality."""
        return self.role == "prefecture" and body.kind != "prefecture" and self.prefecture_code == body.prefecture_code


def new_token() -> str:
    """A fresh random token (256 bits) in its printable form."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The only form of a token that is ever stored."""
    return hashlib.sha256(token.encode()).hexdigest()


_ACCOUNT_OF_TOKEN = (
    select(
        Token.id,
        Token.revoked_at,
        Token.expires_at,
        Account.id,
        Account.name,
        Account.role,
        Account.disabled_at,
        Account.organization,
        Account.administrator,
        Body.id,
        Body.code,
        Body.prefecture_code,
    )
    .join(Account, Token.account_id == Account.id)
    .outerjoin(Body, Account.body_id == Body.id)
)
# built once: every request runs one of them
_BY_HASH = _ACCOUNT_OF_TOKEN.where(Token.token_hash == bindparam("key"))
_BY_ID = _ACCOUNT_OF_TOKEN.where(Token.id == bindparam("key"))


def principal_for_token(session: Session, token: str) -> Principal:
    """The principal a bearer token stands for; Unauthenticated if it is unknown, expired or revoked."""
    return _principal(session, _BY_HASH, hash_token(token))


def sign_in(session: Session, token: str, client: str | None) -> Principal:
    """principal_for_token for a caller at client: failed attempts are counted, and past the limits the
    attempt is refused (429) before the token is even looked at."""
    keys = keys_for(client, token)
    failures.check(keys)
    try:
        return principal_for_token(session, token)
    except Unauthenticated:
        failures.fail(keys)
        raise


def principal_for_token_id(session: Session, token_id: int) -> Principal:
    """The same for a token named by its id (dashboard sessions keep the id, never the token)."""
    return _principal(session, _BY_ID, token_id)


def _principal(session: Session, query: Executable, key: str | int) -> Principal:
    row = session.connection().execute(query, {"key": key}).first()
    if row is None:
        raise Unauthenticated("アクセストークンが正しくありません。")
    (
        token_id,
        revoked_at,
        expires_at,
        account_id,
        name,
        role,
        disabled_at,
        organization,
        administrator,
        body_id,
        code,
        pref,
    ) = row
    if revoked_at is not None:
        raise Unauthenticated("このアクセストークンは失効しています。")
    if expires_at <= utcnow():
        raise Unauthenticated("このアクセストークンは有効期限が切れています。")
    if disabled_at is not None:
        raise Unauthenticated("このアカウントは無効化されています。")
    return Principal(
        account_id=account_id,
        name=name,
        role=role,
        body_id=body_id,
        body_code=code,
        prefecture_code=pref,
        token_id=token_id,
        organization=organization,
        administrator=administrator,
    )
