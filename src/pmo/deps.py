"""Annotated dependencies every router uses: sessions, the caller, role checks, path bodies."""

from typing import Annotated

from fastapi import Depends, Path, Request, params
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pmo import caching
from pmo.auth import Principal, hash_token, sign_in
from pmo.config import get_settings
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


class BearerHeader(HTTPBearer):
    """HTTPBearer (so the document declares the scheme) that reads the header as bearer_token does."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]  # the token, not credentials
        return bearer_token(request)


BEARER_DESCRIPTION = "`pmo tokens issue` またはアカウント画面で発行したトークン（Authorization: Bearer …）"
bearer_header = BearerHeader(scheme_name="bearer", description=BEARER_DESCRIPTION, auto_error=False)
BearerToken = Annotated[str | None, Depends(bearer_header)]


async def required_token(token: BearerToken) -> str:
    """The bearer token, 401 without one, for a route that signs in itself inside its one worker-thread call."""
    if token is None:
        raise Unauthenticated()
    return token


RequiredToken = Annotated[str, Depends(required_token)]


def client_address(request: Request) -> str | None:
    """The caller's address (the user's, behind a proxy run with --forwarded-allow-ips)."""
    return request.client.host if request.client else None


def optional_principal(request: Request, token: BearerToken) -> Principal | None:
    """The caller if a token was sent (checked in its own short read), else None."""
    if token is None:
        return None
    principal = _sign_in(token, client_address(request))
    request.state.principal = principal
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    """The authenticated caller; 401 without a valid token."""
    if principal is None:
        raise Unauthenticated()
    return principal


principals: caching.Cache[str, Principal] = caching.Cache(
    "principals", max_entries=10_000, ttl=lambda: get_settings().auth_cache_seconds
)
for _table in ("accounts", "tokens"):  # a revocation or a disabled account in this worker counts at once
    caching.on_commit(_table, principals.clear)


class StatisticsReaderScheme(BearerHeader):
    """The caller of a statistics route: every signed-in role, and anonymous callers when PMO_PUBLIC_STATS is
    on. Dashboards poll statistics, so a token's principal is remembered for PMO_AUTH_CACHE_SECONDS and a
    cached answer costs no database round trip (another worker's revocation counts after that long; only
    aggregates are served, and every other route checks the token on each request). It is the bearer scheme
    itself rather than a dependency on it: one dependency less to solve on every cached answer."""

    async def __call__(self, request: Request) -> Principal | None:  # type: ignore[override]  # who, not credentials
        token = bearer_token(request)
        if token is None:
            if not get_settings().public_stats:
                raise Unauthenticated()
            return None
        key = hash_token(token)
        principal = principals.get(key)
        if principal is None:
            principal = principals.put(key, await run_in_threadpool(_sign_in, token, client_address(request)))
        request.state.principal = principal
        return principal


statistics_reader = StatisticsReaderScheme(scheme_name="bearer", description=BEARER_DESCRIPTION, auto_error=False)


def _sign_in(token: str, client: str | None) -> Principal:
    with lookup_scope() as session:
        return sign_in(session, token, client)


CurrentUser = Annotated[Principal, Depends(current_principal)]
StatisticsReader = Annotated[Principal | None, Depends(statistics_reader)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]


class RoleGate:
    """A dependency that lets only the given roles through (403 otherwise)."""

    def __init__(self, roles: tuple[str, ...]):
        self.roles = roles

    async def __call__(self, principal: CurrentUser) -> Principal:
        if principal.role not in self.roles:
            raise Forbidden(
                f"この操作はロール {', '.join(self.roles)} に限られます（あなたのロール: {principal.role}）。"
            )
        return principal


def require_role(*roles: str) -> params.Depends:
    """A dependency that lets only the given roles through (403 otherwise)."""
    dependency: params.Depends = Depends(RoleGate(roles))
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
