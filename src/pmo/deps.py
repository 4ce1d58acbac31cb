"""Annotated dependencies every router uses: sessions, the caller, role checks, path bodies."""

from typing import Annotated

from fastapi import Depends, Path, Request, params
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pmo.auth import Principal, sign_in
from pmo.db import (
    get_read_engine,
    lookup_scope,
    read_session,
    request_session,
    stats_session,
)
from pmo.directory import service as directory
from pmo.errors import Forbidden, Unauthenticated
from pmo.models import Body
from pmo.periods import PERIOD_PATTERN

SessionDep = Annotated[Session, Depends(request_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
StatsSessionDep = Annotated[Session, Depends(stats_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """The token of an Authorization: Bearer header; None without one, 401 when it is malformed."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization ヘッダーは「Bearer トークン」の形式で指定してください。")
    return token.strip()


def client_address(request: Request) -> str | None:
    """The caller's address (the user's, behind a proxy run with --forwarded-allow-ips)."""
    return request.client.host if request.client else None


def optional_principal(request: Request) -> Principal | None:
    """The caller if a token was sent (checked in its own short read), else None."""
    token = bearer_token(request)
    if token is None:
        return None
    with lookup_scope() as session:
        principal = sign_in(session, token, client_address(request))
    request.state.principal = principal
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """The authenticated caller; 401 without a valid token."""
    if principal is None:
        raise Unauthenticated()
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]


def require_role(*roles: str) -> params.Depends:
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"この操作はロール {', '.join(roles)} に限られます（あなたのロール: {principal.role}）。")
        return principal

    dependency: params.Depends = Depends(check)
    return dependency


BodyCode = Annotated[
    str, Path(pattern=r"^[0-9]{6}$", description="6桁の全国地方公共団体コード（検査数字付き）", examples=["131016"])
]
PeriodPath = Annotated[str, Path(pattern=PERIOD_PATTERN, description="報告月 YYYY-MM", examples=["2026-11"])]


async def body_from_path(code: BodyCode) -> Body:
    """The body named by the path's code: 422 when malformed, 404 when unknown (master data: usually
    answered from memory, without a database round trip or a worker thread)."""
    body = directory.cached_body(code, get_read_engine())
    if body is None:
        body = await run_in_threadpool(_read_body, code)
    return body


def _read_body(code: str) -> Body:
    with lookup_scope() as session:
        return directory.get_body(session, code)


BodyDep = Annotated[Body, Depends(body_from_path)]
