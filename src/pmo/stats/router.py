"""Statistics endpoints: GET/HEAD only, aggregates only, cached and served as pre-rendered JSON."""

from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal, TypeVar

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pmo import periods
from pmo.db import session_scope
from pmo.deps import StatisticsReader
from pmo.directory.codes import PREFECTURE_NUMBER_PATTERN
from pmo.http import conditional
from pmo.openapi import declare
from pmo.stats import fastpath, service
from pmo.stats.groups import STATS_KINDS
from pmo.stats.inquiries import inquiries as inquiry_table
from pmo.stats.matrix import cache
from pmo.stats.schemas import (
    AdvisersTable,
    Distribution,
    InquiryTable,
    ProgressTable,
    Reporting,
    SystemsBy,
    SystemsTable,
    TrendTable,
)

router = APIRouter(prefix="/stats", tags=["statistics"])
T = TypeVar("T")


Prefecture = Annotated[str | None, Query(pattern=PREFECTURE_NUMBER_PATTERN, description="2-digit prefecture number")]
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


def _read(compute: Callable[[Session], T]) -> T:
    """compute(session) in a read-only statistics transaction (run in a worker thread)."""
    with session_scope(stats=True) as session:
        return compute(session)


async def _serve(request: Request, key: tuple, compute: Callable[[Session], tuple[dict, int]]) -> Response:
    """A cached rendering when the data has not changed (asked at most every PMO_STATS_RECHECK_SECONDS, and at
    once after this worker stored a report), else computed in a worker thread. A hit touches neither the
    database nor a thread, which is why statistics open their session here, on a miss, rather than taking
    one per request as a dependency (that alone was a third of a cached answer's cost)."""
    if cache.recheck_due():
        await run_in_threadpool(_read, cache.sync)
    hit = cache.responses.get(key)
    if hit is None:
        hit = await run_in_threadpool(_read, partial(_render, key=key, compute=compute))
    fastpath.learn(request.scope["path"], request.scope["query_string"], key)
    content, etag = hit
    return conditional.versioned(request.headers.get("if-none-match"), content, etag, conditional.STATISTICS)


def _render(session: Session, key: tuple, compute: Callable[[Session], tuple[dict, int]]) -> tuple[bytes, str]:
    body, depends_on = compute(session)
    content = orjson.dumps(body)
    return cache.responses.put(key, (content, conditional.digest_etag(content)), tag=depends_on)


async def _fresh(compute: Callable[[Session], dict]) -> Response:
    """An answer read afresh on every request (tables outside the report history's data version)."""
    content = await run_in_threadpool(_read, compute)
    return Response(
        orjson.dumps(content), media_type="application/json", headers={"Cache-Control": conditional.STATISTICS}
    )


@router.get("/progress", response_model=ProgressTable, responses=declare(304))
async def progress(
    request: Request,
    _: StatisticsReader,
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


@router.get("/trend", response_model=TrendTable, responses=declare(304))
async def trend(
    request: Request,
    _: StatisticsReader,
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


@router.get("/distribution", response_model=Distribution, responses=declare(304))
async def distribution(
    request: Request, _: StatisticsReader, period: Period = None, operation: Operation = None
) -> Response:
    """Histogram of body completion (overall or for one operation), nationally."""
    p = service.default_period(period)
    return await _serve(request, ("distribution", p, operation), lambda s: service.distribution(s, p, operation))


@router.get("/reporting", response_model=Reporting, responses=declare(304))
async def reporting(
    request: Request,
    _: StatisticsReader,
    period: Period = None,
    by: Annotated[Literal["none", "prefecture", "kind"], Query()] = "prefecture",
) -> Response:
    """Expected, reported, on-time and missing reports for a period by prefecture or kind."""
    p = service.default_period(period)
    key = ("reporting", p, by, periods.window_open(p))  # the same data reads differently once the period is due
    return await _serve(request, key, lambda s: service.reporting(s, p, by))


@router.get("/systems", response_model=SystemsTable)
async def systems(
    _: StatisticsReader,
    by: Annotated[SystemsBy, Query()] = "reason",
    period: Annotated[
        str | None, Query(description="YYYY-MM: the register as it stood at the month's end; default as it stands now")
    ] = None,
) -> Response:
    """特定移行支援システム counts by reason, by where their own target month stands, by prefecture (its
    municipalities) or kind."""
    as_of = None if period is None else service.default_period(period)
    return await _fresh(lambda session: service.systems(session, by, as_of))


@router.get("/inquiries", response_model=InquiryTable)
async def inquiries(
    _: StatisticsReader,
    by: Annotated[Literal["operation", "tier", "state", "category"], Query()] = "operation",
) -> Response:
    """Inquiry counts (and the bodies asking) by operation, tier, state or category, nationally."""
    return await _fresh(lambda session: inquiry_table(session, by))


@router.get("/advisers", response_model=AdvisersTable)
async def advisers(
    _: StatisticsReader, by: Annotated[Literal["none", "prefecture"], Query()] = "prefecture"
) -> Response:
    """Adviser requests and visits by prefecture (its municipalities) or nationally."""
    return await _fresh(lambda session: service.advisers(session, by))
