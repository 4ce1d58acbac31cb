"""Statistics endpoints: GET/HEAD only, aggregates only, cached and served as pre-rendered JSON."""

import hashlib
from collections.abc import Callable
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from pmo.auth import Principal
from pmo.config import get_settings
from pmo.deps import OptionalUser, StatsSessionDep
from pmo.errors import Unauthenticated
from pmo.stats import service
from pmo.stats.matrix import cache
from pmo.stats.inquiries import inquiries as inquiry_table
from pmo.stats.schemas import AdvisersTable, Distribution, InquiryTable, ProgressTable, Reporting, SystemsTable, TrendTable

router = APIRouter(prefix="/stats", tags=["statistics"])


def _get_and_head(path: str, **kwargs):
    """GET in the schema, and HEAD answered by the same function (dashboards probe with HEAD)."""

    def register(func):
        router.add_api_route(path, func, methods=["HEAD"], include_in_schema=False, **kwargs)
        return router.get(path, **kwargs)(func)

    return register


def stats_reader(principal: OptionalUser) -> Principal | None:
    """Every signed-in role may read statistics; anonymous callers only when PMO_PUBLIC_STATS is on."""
    if principal is None and not get_settings().public_stats:
        raise Unauthenticated()
    return principal


Reader = Annotated[Principal | None, Depends(stats_reader)]
Prefecture = Annotated[str | None, Query(pattern=r"^(0[1-9]|[1-3][0-9]|4[0-7])$", description="2-digit prefecture number")]
Kind = Annotated[
    Literal["prefecture", "designated_city", "city", "town", "village", "special_ward"] | None, Query()
]
Period = Annotated[str | None, Query(description="YYYY-MM; default the previous month")]
Operation = Annotated[str | None, Query(description="operation code", max_length=40)]


def _serve(request: Request, session, key: tuple, compute: Callable[[], tuple[dict, int]]) -> Response:
    cache.sync(session)
    hit = cache.responses.get(key)
    if hit is None:
        body, depends_on = compute()
        content = orjson.dumps(body)
        hit = (depends_on, content, '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"')
        cache.responses[key] = hit
    _, content, etag = hit
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


@_get_and_head("/progress", response_model=ProgressTable)
def progress(
    request: Request, session: StatsSessionDep, _: Reader, period: Period = None,
    by: Annotated[str, Query(description=" / ".join(service.BY_CHOICES))] = "operation",
    prefecture: Prefecture = None, kind: Kind = None, operation: Operation = None,
):
    """Completion rates by operation, step, prefecture, kind or phase, with small groups suppressed."""
    directory = cache.get_directory(session)
    q = service.parse_query(period, by, prefecture, kind, operation, directory)
    return _serve(request, session, ("progress", q), lambda: service.progress(session, q))


@_get_and_head("/trend", response_model=TrendTable)
def trend(
    request: Request, session: StatsSessionDep, _: Reader,
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM; default 2022-06")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM; default the previous month")] = None,
    by: Annotated[str, Query(description=" / ".join(service.BY_CHOICES))] = "none",
    interval: Literal["month", "fiscal_year"] = "month",
    prefecture: Prefecture = None, kind: Kind = None, operation: Operation = None,
):
    """Monthly (or fiscal-year-end) series of the progress figures between two periods."""
    directory = cache.get_directory(session)
    q = service.parse_query(to, by, prefecture, kind, operation, directory)
    start = service.default_period(from_ or "2022-06", "from")
    return _serve(request, session, ("trend", q, start, interval), lambda: service.trend(session, q, start, q.period, interval))


@_get_and_head("/distribution", response_model=Distribution)
def distribution(request: Request, session: StatsSessionDep, _: Reader, period: Period = None, operation: Operation = None):
    """Histogram of body completion (overall or for one operation), nationally, small bins suppressed."""
    p = service.default_period(period)
    return _serve(request, session, ("distribution", p, operation), lambda: service.distribution(session, p, operation))


@_get_and_head("/reporting", response_model=Reporting)
def reporting(
    request: Request, session: StatsSessionDep, _: Reader, period: Period = None,
    by: Annotated[Literal["none", "prefecture", "kind"], Query()] = "prefecture",
):
    """Expected, reported, on-time and missing reports for a period by prefecture or kind."""
    p = service.default_period(period)
    return _serve(request, session, ("reporting", p, by), lambda: service.reporting(session, p, by))


@_get_and_head("/systems", response_model=SystemsTable)
def systems(
    session: StatsSessionDep, _: Reader,
    by: Annotated[Literal["none", "reason", "prefecture", "kind", "prefecture,reason"], Query()] = "reason",
):
    """特定移行支援システム counts by reason, prefecture or kind (the register as it stands now)."""
    return Response(orjson.dumps(service.systems(session, by)), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


@_get_and_head("/inquiries", response_model=InquiryTable)
def inquiries(
    session: StatsSessionDep, _: Reader,
    by: Annotated[Literal["operation", "tier", "state", "category"], Query()] = "operation",
):
    """Inquiry counts (and the bodies asking) by operation, tier, state or category, small groups suppressed."""
    return Response(orjson.dumps(inquiry_table(session, by)), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


@_get_and_head("/advisers", response_model=AdvisersTable)
def advisers(session: StatsSessionDep, _: Reader, by: Annotated[Literal["none", "prefecture"], Query()] = "prefecture"):
    """Adviser requests and visits by prefecture, small counts suppressed."""
    return Response(orjson.dumps(service.advisers(session, by)), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})
