"""What each page shows, gathered from the same service functions the JSON API calls."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from pmo import messages, periods
from pmo.auth import Principal
from pmo.config import get_settings
from pmo.dashboard import figures
from pmo.errors import InvalidInput
from pmo.followups import service as followups
from pmo.followups.schemas import CHANNEL_LABELS
from pmo.inquiries import service as inquiries
from pmo.models import Body, System
from pmo.notices import service as notices
from pmo.pagination import PageRequest
from pmo.reports import service as reports
from pmo.review import outlook
from pmo.review import service as review
from pmo.stats import service as stats
from pmo.stats.groups import check_combination, parse_kind
from pmo.stats.matrix import Directory, cache
from pmo.systems import service as systems
from pmo.systems.schemas import REASON_LABELS
from pmo.tabular import FileFormat, file_response

T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    """The national page's filters (blank form fields mean 'all')."""

    period: int
    kind: str | None
    prefecture: str | None
    operation: str | None


def parse_filters(
    directory: Directory, period: str | None, kind: str | None, prefecture: str | None, operation: str | None
) -> Filters:
    """Validated filters; 422 naming the one that is wrong."""
    kind, prefecture, operation = kind or None, prefecture or None, operation or None
    kind = parse_kind(kind)
    check_combination(prefecture, kind, ())
    if prefecture is not None and prefecture not in directory.prefecture_names:
        raise InvalidInput.at(
            ["query", "prefecture"], f"都道府県 {prefecture!r} はありません（01〜47）。", input=prefecture
        )
    if operation is not None and operation not in directory.catalog.op_by_code:
        raise InvalidInput.at(["query", "operation"], messages.unknown_operation(operation), input=operation)
    return Filters(stats.default_period(period) if period else periods.newest_due(), kind, prefecture, operation)


def names(directory: Directory) -> tuple[dict[str, str], dict[str, str]]:
    """Short operation names and step names by code."""
    catalog = directory.catalog
    return {o.code: o.short_name for o in catalog.operations}, {s.code: s.name for s in catalog.steps}


def national(
    session: Session, period: str | None, kind: str | None, prefecture: str | None, operation: str | None
) -> dict:
    """Filters, figures and headline numbers of the national page; figures are cached until a report changes them."""
    cache.sync(session)
    directory = cache.get_directory(session)
    f = parse_filters(directory, period, kind, prefecture, operation)
    op_names, step_names = names(directory)
    k = get_settings().suppression_k

    def q(by: tuple[str, ...], period: int = f.period, operation: str | None = f.operation) -> stats.Query:
        return stats.Query(period, by, f.prefecture, f.kind, operation)

    def cached(name: str, compute: Callable[[], T]) -> T:
        return cache.remember(("dashboard", name, f), f.period, compute)

    def headline() -> dict:
        now = stats.progress(session, q(()))[0]["cells"]
        before = stats.progress(session, q((), periods.add_months(f.period, -1)))[0]["cells"]
        return {"now": now[0] if now else None, "before": before[0] if before else None}

    charts = {
        "operations": cached(
            "operations",
            lambda: figures.operation_bars(
                stats.progress(session, q(("operation",), operation=None))[0]["cells"], op_names, k
            ),
        ),
        "steps": cached(
            "steps",
            lambda: figures.step_heatmap(
                stats.progress(session, q(("operation", "step")))[0]["cells"], op_names, step_names, k
            ),
        ),
        "trend": cached(
            "trend",
            lambda: figures.trend(
                stats.trend(session, q(()), periods.TRACKING_START, f.period, "month")[0]["cells"],
                k,
                periods.TRACKING_START,
            ),
        ),
        "distribution": cached(
            "distribution", lambda: figures.distribution(stats.distribution(session, f.period, f.operation)[0])
        ),
        "reporting": cached(
            f"reporting-{'open' if periods.window_open(f.period) else 'due'}",
            lambda: figures.reporting(
                stats.reporting(session, f.period, "prefecture")[0]["cells"],
                directory.prefecture_names,
                k,
                f.prefecture,
            ),
        ),
        "map": cached(
            "map",
            lambda: figures.tile_map(
                stats.progress(session, stats.Query(f.period, ("prefecture",), None, f.kind, f.operation))[0]["cells"],
                directory.prefecture_names,
                k,
                f.prefecture,
            ),
        ),
    }
    # The systems register changes without a report: its figure is keyed by the register's own version.
    version = session.execute(select(func.count(), func.max(System.updated_at)).select_from(System)).one()
    deferred = cache.remember(
        ("dashboard", "deferred", f.prefecture, *version),
        f.period,
        lambda: (
            [c for c in stats.systems(session, "prefecture,reason")["cells"] if c["prefecture"] == f.prefecture]
            if f.prefecture
            else stats.systems(session, "reason")["cells"]
        ),
    )
    by_track = cache.remember(  # on track or not moves with reports of the month being reported too
        ("dashboard", "deferred-tracks", f.prefecture, periods.current(), *version),
        periods.add_months(periods.current(), -1),
        lambda: {
            c["track"]: c["deferred_systems"]
            for c in stats.systems(session, "prefecture,track" if f.prefecture else "track")["cells"]
            if c.get("prefecture") == f.prefecture
        },
    )
    charts["systems"] = cache.remember(
        ("dashboard", "systems", f.prefecture, *version),
        f.period,
        lambda: figures.deferred_systems(deferred, REASON_LABELS, k),
    )
    return {
        "f": f,
        "charts": charts,
        "open_window": _open_window(session),
        "headline": cached("headline", headline),
        "k": k,
        "target_period": figures.TARGET_PERIOD,
        "target_months": periods.months_between(f.period, figures.TARGET_PERIOD),
        "by_track": by_track,
        "remaining_bodies": cached("remaining", lambda: _remaining_bodies(session, f)),
        "deferred_total": None
        if any(c["suppressed"] for c in deferred)
        else sum(c["deferred_systems"] for c in deferred),
        "periods": list(reversed(periods.span(periods.TRACKING_START, stats.default_period(None)))),
        "prefectures": sorted(directory.prefecture_names.items()),
        "operations": [(o.code, o.name) for o in directory.catalog.operations],
    }


def _remaining_bodies(session: Session, f: Filters) -> int | None:
    """Bodies nationally (or of the operation filtered) not yet at 100 % completion in the period."""
    if f.kind or f.prefecture:
        return None  # the distribution is national only
    body = stats.distribution(session, f.period, f.operation)[0]
    return int(body["n_bodies"] - body["bins"][-1]["n_bodies"])


def _open_window(session: Session) -> dict | None:
    """Last month while its reports are still within their window: how many bodies have reported so far."""
    last = stats.default_period(None)
    if not periods.window_open(last):
        return None
    [cell] = stats.reporting(session, last, "none")[0]["cells"]
    return {
        "period": last,
        "due_at": periods.due_at(last),
        "reported": cell["n_reported"],
        "expected": cell["n_bodies"],
    }


def prefecture(
    session: Session, principal: Principal, code: str, period_text: str | None, everyone_scored: bool = False
) -> dict:
    """A prefecture's municipalities, laggards, missing reports and follow-ups (the prefecture and admin)."""
    pref = review.prefecture_for(session, principal, code)
    period = review.parse_review_period(period_text or None)
    table = review.review_rows(session, pref, period)
    op_names, _ = names(cache.get_directory(session))
    rows = [r.model_dump() for r in table.rows]
    ranked = sorted(rows, key=lambda r: (r["completion_rate"], r["body"]))
    return {
        "prefecture": pref,
        "period": period,
        "table": table,
        "rows": rows,
        "lagging": review.lagging(session, pref, period, everyone_scored),
        "everyone_scored": everyone_scored,
        "channel_labels": CHANNEL_LABELS,
        "missing": review.missing_reports(session, pref, period),
        "follow_ups": followups.list_visible(
            session, principal, shared=None, prefecture=pref.prefecture_code, page=PageRequest(50, 0)
        ).items,
        "heatmap": figures.municipality_heatmap(ranked, op_names),
        "op_names": op_names,
        "inquiries": inquiries_of(session, principal, pref.prefecture_code, active=True),
        "periods": list(reversed(periods.span(periods.TRACKING_START, periods.current()))),
        "outlook": outlook.deferred_outlook(session, pref),
        "outlook_period": periods.add_months(periods.current(), -1),
    }


def prefecture_export(
    session: Session, principal: Principal, code: str, period_text: str | None, table: str, fmt: FileFormat
) -> Response:
    """A download of the prefecture page's municipalities table or of its not-yet-reported list."""
    pref = review.prefecture_for(session, principal, code)
    period = review.parse_review_period(period_text or None)
    if table == "missing":
        return file_response(review.missing_export(pref, review.missing_reports(session, pref, period)), fmt)
    return file_response(review.review_export(session, pref, review.review_rows(session, pref, period)), fmt)


def body(session: Session, principal: Principal, target: Body, period_text: str | None, operation: str | None) -> dict:
    """A body's grid for a period, its progress charts, systems and missing reports (body, prefecture, admin)."""
    period_text = period_text or periods.fmt(periods.add_months(periods.current(), -1))
    grid = reports.get_grid(session, principal, target, period_text)
    progress = reports.get_progress(session, principal, target, period_text).model_dump()
    cache.sync(session)
    directory = cache.get_directory(session)
    op_names, step_names = names(directory)
    own_ops = [c["operation"] for c in grid["cells"][::40]]
    operation = operation if operation in own_ops else own_ops[0]
    return {
        "body": target,
        "grid": grid,
        "progress": progress,
        "period_text": grid["period"],
        "charts": {
            "progress": figures.body_progress(progress, op_names, step_names),
            "grid": figures.status_grid(grid["cells"], op_names, step_names),
        },
        "systems": systems.list_systems(session, principal, target),
        "missing": review.own_missing(session, principal, target).periods,
        "history": reports.list_reports(session, principal, target)[:12],
        "can_edit": principal.owns(target),
        "operation": operation,
        "op_names": op_names,
        "step_names": step_names,
        "edit_cells": [c for c in grid["cells"] if c["operation"] == operation],
        "operations": [(code, directory.catalog.op_by_code[code].name) for code in own_ops],
        "periods": list(reversed(periods.span(periods.TRACKING_START, periods.current()))),
        "reason_labels": REASON_LABELS,
        "inquiries": inquiries_of(session, principal, target.prefecture_code, body_code=target.code),
        "notices": notices.list_notices(session, principal, unread=True, limit=20).items
        if principal.owns(target)
        else None,
    }


def inquiries_of(
    session: Session, principal: Principal, prefecture_code: str, *, body_code: str | None = None, active: bool = False
) -> list:
    """The caller's queue narrowed to one prefecture's (or one body's) inquiries."""
    page = inquiries.queue(session, principal, status="active" if active else None, limit=get_settings().page_size_max)
    return [i for i in page.items if (i.asker.body or "")[:2] == prefecture_code and body_code in (None, i.asker.body)]
