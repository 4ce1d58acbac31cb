"""Dashboard sign-in: a signed HttpOnly cookie holding a random session key (never the token) and a CSRF token.

The server keeps each signed-in session (page_sessions: the key's SHA-256, the token, expiry, end), so
sign-out ends it for every copy of the cookie; every request re-checks the session and its token, so
revoking the token or disabling the account ends it at once too."""

import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pmo.accounts.passwords import SIGN_IN_PREFIX
from pmo.auth import Principal, hash_token, principal_for_token_id
from pmo.config import PROJECT_ROOT, get_settings
from pmo.db import lookup_scope, utcnow
from pmo.errors import Forbidden, PmoError, Unauthenticated
from pmo.models import PageSession as PageSessionRow
from pmo.models import Token
from pmo.notifications import service as notifications

COOKIE = "pmo_session"
SECRET_FILE = PROJECT_ROOT / "var" / "session-secret"


@dataclass(frozen=True)
class PageSession:
    """What the cookie says: the signed-in session's key (if any) and the session's CSRF token."""

    key: str | None
    csrf: str


def _file_secret(path: Path) -> str:
    """A random key kept in a file (created once, readable by the owner only), shared by all workers."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


@lru_cache
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="pmo-dashboard-session")


TICKET_SECONDS = 300  # between the password and the second factor


def second_factor_ticket(request: Request, account_id: int) -> str:
    """Proof that this browser gave the account's password a moment ago (bound to its CSRF token)."""
    secret = get_settings().session_secret or _file_secret(SECRET_FILE)
    signer = URLSafeTimedSerializer(secret, salt="pmo-second-factor")
    return signer.dumps({"a": account_id, "c": csrf_token(request)})


def read_ticket(request: Request, ticket: str) -> int | None:
    """The account a ticket of this browser names, while it is fresh; None otherwise."""
    secret = get_settings().session_secret or _file_secret(SECRET_FILE)
    try:
        data = URLSafeTimedSerializer(secret, salt="pmo-second-factor").loads(ticket, max_age=TICKET_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != csrf_token(request) or not isinstance(data.get("a"), int):
        return None
    return int(data["a"])


def serializer() -> URLSafeTimedSerializer:
    """The cookie signer keyed by PMO_SESSION_SECRET, or by the key file."""
    return _serializer(get_settings().session_secret or _file_secret(SECRET_FILE))


def read(request: Request) -> PageSession | None:
    """The request's session, or None when there is no valid, unexpired cookie."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = serializer().loads(raw, max_age=get_settings().session_hours * 3600)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    key = data.get("k")
    return PageSession(key if isinstance(key, str) else None, data["c"])


def start(request: Request, session: Session | None = None, token_id: int | None = None) -> PageSession:
    """A fresh session for this request (a new CSRF token; signed in as token_id, stored through session);
    save() puts it on the response."""
    key = None
    if token_id is not None and session is not None:
        key = secrets.token_urlsafe(32)
        now = utcnow()
        session.add(
            PageSessionRow(
                key_hash=hash_token(key),
                token_id=token_id,
                created_at=now,
                expires_at=now + timedelta(hours=get_settings().session_hours),
            )
        )
    page = PageSession(key, secrets.token_urlsafe(24))
    request.state.page_session = page
    return page


def end(request: Request, session: Session) -> None:
    """Sign out on the server: the session's cookie, and every copy of it, no longer signs anyone in."""
    page = read(request)
    if page is not None and page.key is not None:
        ended = session.execute(
            update(PageSessionRow)
            .where(PageSessionRow.key_hash == hash_token(page.key), PageSessionRow.ended_at.is_(None))
            .values(ended_at=utcnow())
            .returning(PageSessionRow.token_id)
        ).scalar()
        if ended is not None:  # a password session's own token goes with it (a pasted token stays valid)
            session.execute(
                update(Token)
                .where(Token.id == ended, Token.prefix == SIGN_IN_PREFIX, Token.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )


def save(request: Request, response: Response) -> None:
    """The request's new session as a cookie: HttpOnly, SameSite=Lax, Secure over https."""
    page: PageSession = request.state.page_session
    response.set_cookie(
        COOKIE,
        serializer().dumps({"k": page.key, "c": page.csrf}),
        max_age=get_settings().session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear(response: Response) -> None:
    """End the session."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def csrf_token(request: Request) -> str | None:
    """The CSRF token forms of this page must carry (None before any session exists)."""
    page = getattr(request.state, "page_session", None) or read(request)
    return page.csrf if page else None


def check_csrf(request: Request, sent: str | None) -> None:
    """403 unless the form carried this session's CSRF token."""
    page = read(request)
    if page is None or not sent or not hmac.compare_digest(page.csrf, sent):
        raise Forbidden(
            "フォームの有効期限が切れたか、不正な送信です。ページを開き直してからもう一度送信してください。"
        )


def page_user(request: Request) -> Principal | None:
    """The signed-in user of a page, or None (an invalid or revoked sign-in counts as none)."""
    if hasattr(request.state, "page_user"):
        remembered: Principal | None = request.state.page_user
        return remembered
    page = read(request)
    principal = None
    if page is not None and page.key is not None:
        try:
            with lookup_scope() as session:
                token_id = session.scalar(
                    select(PageSessionRow.token_id).where(
                        PageSessionRow.key_hash == hash_token(page.key),
                        PageSessionRow.ended_at.is_(None),
                        PageSessionRow.expires_at > utcnow(),
                    )
                )
                principal = None if token_id is None else principal_for_token_id(session, token_id)
                if principal is not None:
                    request.state.unread = notifications.unread_count(session, principal.account_id)
        except PmoError:
            principal = None
    request.state.page_user = principal
    return principal


def require_user(request: Request) -> Principal:
    """The signed-in user; Unauthenticated (which pages turn into a redirect to /login) otherwise."""
    principal = page_user(request)
    if principal is None:
        raise Unauthenticated("ログインしてください。")
    return principal
