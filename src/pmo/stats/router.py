"""Statistics endpoints: GET/HEAD only, aggregates only, cached and served as pre-rendered JSON."""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pmo.auth import Principal, hash_token, sign_in
from pmo.config import get_settings
from pmo.db import lookup_scope, session_scope
from pmo.deps import StatsSessionDep, bearer_token, client_address
from pmo.errors import Unauthenticated
from pmo.http import conditional
from pmo.stats import service
from pmo.stats.groups import STATS_KINDS
from pmo.stats.inquiries import inquiries as inquiry_table
from pmo.stats.matrix import cache
from pmo.stats.schemas import (
    AdvisersTable,
    Distribution,
    InquiryTable,
    ProgressTable,
    Reporting,
    SystemsTable,
    TrendTable,
)

router = APIRouter(prefix="/stats", tags=["statistics"])


_principals: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
_MAX_PRINCIPALS = 10_000


def _lookup(token: str, client: str | None) -> Principal:
    with lookup_scope() as session:
        return sign_in(session, token, client)


async def stats_reader(request: Request) -> Principal | None:
    """Every signed-in role may read statistics; anonymous callers only when PMO_PUBLIC_STATS is on.
    Dashboards poll these endpoints: a token's principal is remembered for PMO_AUTH_CACHE_SECONDS, so a
    cached answer costs no database round trip (a revoked token still reads aggregates that long)."""
    token = bearer_token(request)
    if token is None:
        if not get_settings().public_stats:
            raise Unauthenticated()
        return None
    key = hash_token(token)
    hit = _principals.get(key)
    if hit is not None and time.monotonic() - hit[0] < get_settings().auth_cache_seconds:
        return hit[1]
    principal = await run_in_threadpool(_lookup, token, client_address(request))
    _principals[key] = (time.monotonic(), principal)
    while len(_principals) > _MAX_PRINCIPALS:
        _principals.popitem(last=False)
    return principal


Reader = Annotated[Principal | None, Depends(stats_reader)]
Prefecture = Annotated[
    str | None, Query(pattern=r"^(0[1-9]|[1-3][0-9]|4[0-7])$", description="2-digit prefecture number")
]
Kind = Annotated[
    str | None,
    Query(
        max_length=40,
        description=" / ".join(STATS_KINDS) + " (cities: 市 and 政令指定都市; "
        "towns_villages: 町村; the finer kinds would single out bodies within a prefecture)",
    ),
]
Period = Annotated[str | None, Query(description="YYYY-MM; default the previous month")]
Operation = Annotated[str | None, Query(description="operation code", max_length=40)]


def _render(key: tuple, compute: Callable[[Session], tuple[dict, int]]) -> tuple[int, bytes, str]:
    with session_scope(stats=True) as session:
        body, depends_on = compute(session)
    content = orjson.dumps(body)
    hit = (depends_on, content, '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"')
    cache.responses[key] = hit
    return hit


def _sync() -> None:
    with session_scope(stats=True) as session:
        cache.sync(session)


async def _serve(request: Request, key: tuple, compute: Callable[[Session], tuple[dict, int]]) -> Response:
    """A cached rendering when the data has not changed (checked at most every PMO_STATS_RECHECK_SECONDS),
    else computed in a worker thread; a hit touches neither the database nor a thread."""
    if cache.recheck_due(get_settings().stats_recheck_seconds):
        await run_in_threadpool(_sync)
    hit = cache.responses.get(key)
    if hit is None:
        hit = await run_in_threadpool(_render, key, compute)
    _, content, etag = hit
    return conditional.versioned(request.headers.get("if-none-match"), content, etag, conditional.STATISTICS)


@router.get("/progress", response_model=ProgressTable)
async def progress(
    request: Request,
    _: Reader,
    period: Period = None,
    by: Annotated[str, Query(description=" / ".join(service.BY_CHOICES))] = "operation",
    prefecture: Prefecture = None,
    kind: Kind = None,
    operation: Operation = None,
) -> Response:
    """Completion rates by operation, step, prefecture (its municipalities), kind or phase."""
    key = ("progress", service.default_period(period), by, prefecture, kind, operation)

    def compute(session: Session) -> tuple[dict, int]:
        return service.progress(
            session, service.parse_query(period, by, prefecture, kind, operation, cache.get_directory(session))
        )

    return await _serve(request, key, compute)


@router.get("/trend", response_model=TrendTable)
async def trend(
    request: Request,
    _: Reader,
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM; default 2022-06")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM; default the previous month")] = None,
    by: Annotated[str, Query(description=" / ".join(service.BY_CHOICES))] = "none",
    interval: Literal["month", "fiscal_year"] = "month",
    prefecture: Prefecture = None,
    kind: Kind = None,
    operation: Operation = None,
) -> Response:
    """Monthly (or fiscal-year-end) series of the progress figures between two periods."""
    start = service.default_period(from_ or "2022-06", "from")
    key = ("trend", service.default_period(to, "to"), start, interval, by, prefecture, kind, operation)

    def compute(session: Session) -> tuple[dict, int]:
        q = service.parse_query(to, by, prefecture, kind, operation, cache.get_directory(session))
        return service.trend(session, q, start, q.period, interval)

    return await _serve(request, key, compute)


@router.get("/distribution", response_model=Distribution)
async def distribution(request: Request, _: Reader, period: Period = None, operation: Operation = None) -> Response:
    """Histogram of body completion (overall or for one operation), nationally."""
    p = service.default_period(period)
    return await _serve(
        request, ("distribution", p, operation), lambda session: service.distribution(session, p, operation)
    )


@router.get("/reporting", response_model=Reporting)
async def reporting(
    request: Request,
    _: Reader,
    period: Period = None,
    by: Annotated[Literal["none", "prefecture", "kind"], Query()] = "prefecture",
) -> Response:
    """Expected, reported, on-time and missing reports for a period by prefecture or kind."""
    p = service.default_period(period)
    return await _serve(request, ("reporting", p, by), lambda session: service.reporting(session, p, by))


@router.get("/systems", response_model=SystemsTable)
def systems(
    session: StatsSessionDep,
    _: Reader,
    by: Annotated[Literal["none", "reason", "prefecture", "kind", "prefecture,reason"], Query()] = "reason",
    period: Annotated[
        str | None, Query(description="YYYY-MM: the register as it stood at the month's end; default as it stands now")
    ] = None,
) -> Response:
    """特定移行支援システム counts by reason, prefecture (its municipalities) or kind."""
    as_of = None if period is None else service.default_period(period)
    return Response(
        orjson.dumps(service.systems(session, by, as_of)),
        media_type="application/json",
        headers={"Cache-Control": conditional.STATISTICS},
    )


@router.get("/inquiries", response_model=InquiryTable)
def inquiries(
    session: StatsSessionDep,
    _: Reader,
    by: Annotated[Literal["operation", "tier", "state", "category"], Query()] = "operation",
) -> Response:
    """Inquiry counts (and the bodies asking) by operation, tier, state or category, nationally."""
    return Response(
        orjson.dumps(inquiry_table(session, by)),
        media_type="application/json",
        headers={"Cache-Control": conditional.STATISTICS},
    )


@router.get("/advisers", response_model=AdvisersTable)
def advisers(
    session: StatsSessionDep, _: Reader, by: Annotated[Literal["none", "prefecture"], Query()] = "prefecture"
) -> Response:
    """Adviser requests and visits by prefecture (its municipalities) or nationally."""
    return Response(
        orjson.dumps(service.advisers(session, by)),
        media_type="application/json",
        headers={"Cache-Control": conditional.STATISTICS},
    )
