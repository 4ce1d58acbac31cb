"""Prefecture review: its municipalities' progress, who lags and why, who has not reported."""

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from pmo import labels, periods
from pmo.access import ensure_readable
from pmo.auth import Principal
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.directory import service as directory_service
from pmo.errors import Forbidden, InvalidInput, NotFound
from pmo.models import Body, BodyCells, BodyPeriod, FollowUp, ReportRevision
from pmo.reports.cellgrid import CellGrid
from pmo.reports.grid import DONE, NOT_APPLICABLE, grid_template, load_catalog
from pmo.reports.history import replayed_cells
from pmo.review.schemas import (
    LaggingBody,
    LaggingList,
    LastFollowUp,
    MissingReport,
    MissingReports,
    OperationRate,
    OwnMissing,
    Reason,
    ReportStatus,
    ReviewRow,
    ReviewTable,
)
from pmo.stats.groups import STATS_KIND_LABELS, STATS_KIND_OF
from pmo.stats.matrix import cache
from pmo.stats.summary import completion_rates
from pmo.systems.service import deferred_counts
from pmo.tabular import Sheet

POINTS = {
    "plan_month": 0.1,
    "peer_month": 0.5,
    "stalled_month": 0.4,
    "missing": 1.0,
    "late": 0.3,
    "inquiry": 0.5,
    "deferred": 0.5,
}


def prefecture_for(session: Session, principal: Principal, code: str) -> Body:
    """The prefecture named by code, if the caller is that prefecture (or admin)."""
    body = directory_service.get_body(session, code)
    if body.kind != "prefecture":
        raise NotFound(f"団体コード {code}（{body.name}）は都道府県ではありません。")
    if not (principal.role == "admin" or principal.owns(body)):
        raise Forbidden(f"{body.name}の市区町村の状況を確認できるのは{body.name}のアカウントだけです。")
    return body


def parse_review_period(text: str | None) -> int:
    """The period reviewed: given, or the previous month (whose reports are due now)."""
    if text is None:
        return periods.add_months(periods.current(), -1)
    period = periods.parse(text)
    if period is None or not periods.FIRST_PERIOD <= period <= periods.current():
        raise InvalidInput.at(
            ["query", "period"],
            f"period は {periods.fmt(periods.FIRST_PERIOD)} から今月までの YYYY-MM です。",
            input=text,
        )
    return period


def _municipalities(session: Session, prefecture: Body) -> list[Body]:
    return list(
        session.scalars(
            select(Body)
            .where(Body.prefecture_code == prefecture.prefecture_code, Body.kind != "prefecture")
            .order_by(Body.code)
        )
    )


@dataclass
class Snapshot:
    """What the review needs of each municipality for a period, in the order of `bodies`."""

    bodies: list[Body]
    per_operation: np.ndarray
    overall: np.ndarray
    previous: np.ndarray
    reported: np.ndarray
    on_time: np.ndarray
    last_reported: dict[int, int]
    deferred: dict[int, int]


def _snapshot(session: Session, bodies: list[Body], period: int) -> Snapshot:
    cache.sync(session)
    directory = cache.get_directory(session)
    now = cache.get_matrix(session, period)
    rows = [directory.row_of[b.id] for b in bodies]
    per_op = cache.remember(("completion", period), period, lambda: completion_rates(now.statuses)[0])
    overall = cache.get_summary(session, period).overall  # each body's rate: the summaries keep it
    previous = cache.get_summary(session, periods.add_months(period, -1)).overall
    ids = [b.id for b in bodies]
    last = newest_period(session, BodyPeriod, ids, period)
    return Snapshot(
        bodies,
        per_op[rows],
        overall[rows],
        previous[rows],
        now.reported[rows],
        now.on_time[rows],
        last,
        deferred_counts(session, ids),
    )


def _status(snapshot: Snapshot, i: int, period: int) -> ReportStatus:
    if snapshot.reported[i]:
        return "on_time" if snapshot.on_time[i] else "late"
    return "pending" if periods.window_open(period) else "missing"


def review_rows(session: Session, prefecture: Body, period: int) -> ReviewTable:
    """Every municipality with its rates, change since last month, report status and deferred systems."""
    bodies = _municipalities(session, prefecture)
    snap = _snapshot(session, bodies, period)
    catalog = cache.get_directory(session).catalog
    rows = []
    for i, body in enumerate(bodies):
        ops = [
            OperationRate(operation=op.code, completion_rate=round(float(snap.per_operation[i, op.id - 1]), 6))
            for op in catalog.operations
            if not np.isnan(snap.per_operation[i, op.id - 1])
        ]
        rows.append(
            ReviewRow(
                body=body.code,
                name=body.name,
                kind=body.kind,
                completion_rate=round(float(snap.overall[i]), 6),
                change=round(float(snap.overall[i] - snap.previous[i]), 6),
                report_status=_status(snap, i, period),
                last_reported=periods.fmt(snap.last_reported.get(body.id)),
                deferred_systems=snap.deferred.get(body.id, 0),
                operations=ops,
            )
        )
    return ReviewTable(
        prefecture=prefecture.code,
        prefecture_name=prefecture.name,
        period=periods.fmt(period),
        due_at=periods.due_at(period).isoformat(),
        rows=rows,
    )


def _median_curves(session: Session, period: int) -> dict[str, dict[int, float]]:
    """Per kind, the national median of overall completion for every period since tracking began (the kinds
    statistics publish: finer ones would single bodies out), from the periods' summaries."""

    def compute() -> dict[str, dict[int, float]]:
        span = periods.span(min(periods.TRACKING_START, period), period)
        summaries = cache.get_summaries(session, span)
        curves: dict[str, dict[int, float]] = {}
        for p in span:
            for kind, median in summaries[p].kind_median.items():
                curves.setdefault(kind, {})[p] = median
        return curves

    return cache.remember(("median_curves", period), period, compute)


def _overdue_steps(session: Session, bodies: list[Body], period: int) -> dict[int, list[int]]:
    """Per body, how many months each step that should have been done by now is overdue."""
    catalog = load_catalog(session)
    ids = [b.id for b in bodies]
    newest_of = newest_period(session, BodyPeriod, ids, periods.current())
    current = dict(session.execute(select(BodyCells.body_id, BodyCells.cells).where(BodyCells.body_id.in_(ids))).all())
    overdue: dict[int, list[int]] = {}
    for body in bodies:
        newest = newest_of.get(body.id)
        template = grid_template(catalog, body)
        if newest is not None and newest > period:  # looking back: rebuild that period's state
            cells = replayed_cells(session, body.id, template, period)
        elif body.id in current:
            cells = CellGrid.unpack(current[body.id], template)
        else:
            continue
        months = _months_overdue(cells, period)
        if months:
            overdue[body.id] = months
    return overdue


def _months_overdue(cells: CellGrid, period: int) -> list[int]:
    """Months past its planned end of every step not done (nor 対象外) whose planned end is before period."""
    ends = np.frombuffer(cells.planned_end, dtype=np.int32)
    statuses = np.frombuffer(cells.statuses, dtype=np.uint8)
    late = ends[(ends > 0) & (ends < period) & (statuses != DONE) & (statuses != NOT_APPLICABLE) & (statuses != 0)]
    months: list[int] = ((period // 100 - late // 100) * 12 + (period % 100 - late % 100)).tolist()
    return months


def newest_period(
    session: Session,
    model: type[BodyPeriod] | type[ReportRevision],
    ids: list[int],
    period: int,
    *where: ColumnElement[bool],
) -> dict[int, int]:
    """Per body, the newest period at or before `period` among its rows of model (that match where): one
    index seek per body, from the newest end, rather than a pass over its whole history."""
    newest = (
        select(model.period)
        .where(model.body_id == Body.id, model.period <= period, *where)
        .order_by(model.period.desc())
        .limit(1)
        .correlate(Body)
        .scalar_subquery()
    )
    return {body_id: p for body_id, p in session.execute(select(Body.id, newest).where(Body.id.in_(ids))) if p}


def _last_change(session: Session, ids: list[int], period: int) -> dict[int, int]:
    return newest_period(session, ReportRevision, ids, period, ReportRevision.n_changed > 0)


def _report_record(session: Session, ids: list[int], window: list[int]) -> dict[int, tuple[int, int]]:
    """Per body, (reports missing, reports late) over the window's periods."""
    seen: dict[int, dict[int, bool]] = {}
    for body_id, period, late in session.execute(
        select(BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.late).where(
            BodyPeriod.body_id.in_(ids), BodyPeriod.period.in_(window)
        )
    ):
        seen.setdefault(body_id, {})[period] = late
    return {i: (len(window) - len(seen.get(i, {})), sum(seen.get(i, {}).values())) for i in ids}


def lagging(session: Session, prefecture: Body, period: int, everyone: bool = False) -> LaggingList:
    """Municipalities ranked by how far behind they are, each reason's contribution shown: those to call
    first (the top PMO_LAG_SHARE of the prefecture's municipalities, at least PMO_LAG_MIN_SCORE points), or
    with everyone, every municipality with its score."""
    from pmo.inquiries.service import open_by_body

    settings = get_settings()
    bodies = _municipalities(session, prefecture)
    ids = [b.id for b in bodies]
    snap = _snapshot(session, bodies, period)
    curves = _median_curves(session, period)
    overdue = _overdue_steps(session, bodies, period)
    last_change = _last_change(session, ids, period)
    due_periods = [
        p
        for p in periods.span(periods.add_months(period, 1 - settings.lag_window_months), period)
        if not periods.window_open(p)
    ]
    record = _report_record(session, ids, due_periods)
    open_inquiries = open_by_body(session, prefecture.prefecture_code)
    ranked = []
    for i, body in enumerate(bodies):
        reasons: list[Reason] = []
        late_steps = overdue.get(body.id, [])
        if late_steps:
            points = POINTS["plan_month"] * sum(min(m, 12) for m in late_steps)
            reasons.append(
                Reason(
                    code="behind_plan",
                    points=round(points, 2),
                    message=f"完了予定月を過ぎても完了していないステップが{len(late_steps)}件あります（最長{max(late_steps)}か月超過）。",
                    figures={"overdue_steps": len(late_steps), "max_months_overdue": max(late_steps)},
                )
            )
        own = float(snap.overall[i])
        curve = curves.get(STATS_KIND_OF[body.kind], {})
        median_now = curve.get(period)
        if median_now is not None and own < median_now:
            caught_up = [p for p, m in curve.items() if m <= own]
            behind = (
                periods.months_between(max(caught_up), period)
                if caught_up
                else periods.months_between(min(curve), period) + 1
            )
            if behind >= settings.lag_peer_months:
                reasons.append(
                    Reason(
                        code="behind_peers",
                        points=round(POINTS["peer_month"] * behind, 2),
                        message=f"全国の{STATS_KIND_LABELS[STATS_KIND_OF[body.kind]]}の中央値より約{behind}か月遅れています"
                        f"（完了率 {own:.0%}、中央値 {median_now:.0%}）。",
                        figures={
                            "months_behind": behind,
                            "completion_rate": round(own, 4),
                            "median": round(median_now, 4),
                        },
                    )
                )
        if own < 1.0:
            since = last_change.get(body.id)
            quiet = periods.months_between(since, period) if since else None
            if quiet is not None and quiet >= settings.lag_stalled_months:
                reasons.append(
                    Reason(
                        code="stalled",
                        points=round(POINTS["stalled_month"] * quiet, 2),
                        message=f"{quiet}か月間、どのステップの状況も変わっていません"
                        f"（最後の変更 {periods.fmt(since)}）。",
                        figures={"months_without_change": quiet, "last_change": periods.fmt(since)},
                    )
                )
        missing, late = record.get(body.id, (0, 0))
        if missing or late:
            reasons.append(
                Reason(
                    code="reports",
                    points=round(POINTS["missing"] * missing + POINTS["late"] * late, 2),
                    message=f"直近{len(due_periods)}か月で未報告{missing}回、期限後の報告{late}回です。",
                    figures={"missing": missing, "late": late, "window_months": len(due_periods)},
                )
            )
        inquiries = open_inquiries.get(body.id, 0)
        if inquiries >= settings.lag_open_inquiries:
            reasons.append(
                Reason(
                    code="open_inquiries",
                    points=round(POINTS["inquiry"] * inquiries, 2),
                    message=f"未解決の問合せが{inquiries}件あります。",
                    figures={"open_inquiries": inquiries},
                )
            )
        deferred = snap.deferred.get(body.id, 0)
        if deferred:
            reasons.append(
                Reason(
                    code="deferred_systems",
                    points=round(POINTS["deferred"] * deferred, 2),
                    message=f"特定移行支援システムが{deferred}件あります。",
                    figures={"deferred_systems": deferred},
                )
            )
        score = round(sum(r.points for r in reasons), 2)
        reasons.sort(key=lambda r: -r.points)
        ranked.append((score, own, body, reasons))
    ranked.sort(key=lambda t: (-t[0], t[1], t[2].code))
    cut = _first_cut([score for score, *_ in ranked])
    listed = [t for t in ranked if everyone or (t[0] >= cut and t[3])]
    follow_ups = _last_follow_ups(session, prefecture, [b.id for _, _, b, _ in listed])
    return LaggingList(
        prefecture=prefecture.code,
        period=periods.fmt(period),
        thresholds={
            "min_score": settings.lag_min_score,
            "share": settings.lag_share,
            "cut_score": cut,
            "stalled_months": settings.lag_stalled_months,
            "peer_months": settings.lag_peer_months,
            "window_months": settings.lag_window_months,
            "open_inquiries": settings.lag_open_inquiries,
        },
        municipalities=len(bodies),
        scored=sum(1 for t in ranked if t[3]),
        first=sum(1 for t in ranked if t[0] >= cut and t[3]),
        bodies=[
            LaggingBody(
                rank=n,
                body=b.code,
                name=b.name,
                kind=b.kind,
                score=score,
                completion_rate=round(own, 6),
                call_first=score >= cut and bool(r),
                last_follow_up=follow_ups.get(b.id),
                reasons=r,
            )
            for n, (score, own, b, r) in enumerate(listed, start=1)
        ],
    )


def _first_cut(scores: list[float]) -> float:
    """The score from which a municipality is listed first: that of the last one within the top
    PMO_LAG_SHARE of the prefecture's municipalities (ties included), never below PMO_LAG_MIN_SCORE."""
    settings = get_settings()
    if not scores:
        return settings.lag_min_score
    n_first = max(1, math.ceil(settings.lag_share * len(scores)))
    return max(settings.lag_min_score, sorted(scores, reverse=True)[n_first - 1])


def _last_follow_ups(session: Session, prefecture: Body, ids: list[int]) -> dict[int, LastFollowUp]:
    """Per body, the newest follow-up this prefecture recorded."""
    rows = session.execute(
        select(FollowUp.body_id, FollowUp.held_on, FollowUp.channel, FollowUp.next_check_on)
        .where(FollowUp.body_id.in_(ids), FollowUp.prefecture_code == prefecture.prefecture_code)
        .order_by(FollowUp.body_id, FollowUp.held_on, FollowUp.id)
    )
    return {
        body_id: LastFollowUp(held_on=held_on, channel=channel, next_check_on=next_check_on)
        for body_id, held_on, channel, next_check_on in rows
    }


def missing_reports(session: Session, prefecture: Body, period: int) -> MissingReports:
    """Municipalities with no report for the period, longest silent first: `pending` while the report window
    is open, `missing` once the due time has passed."""
    bodies = _municipalities(session, prefecture)
    ids = [b.id for b in bodies]
    reported = set(
        session.scalars(select(BodyPeriod.body_id).where(BodyPeriod.body_id.in_(ids), BodyPeriod.period == period))
    )
    last = newest_period(session, BodyPeriod, ids, period)
    start = min(periods.TRACKING_START, period)
    not_in = [
        MissingReport(
            body=b.code,
            name=b.name,
            kind=b.kind,
            last_reported=periods.fmt(last.get(b.id)),
            months_missing=periods.months_between(last[b.id], period)
            if b.id in last
            else periods.months_between(start, period) + 1,
        )
        for b in bodies
        if b.id not in reported
    ]
    not_in.sort(key=lambda m: (-m.months_missing, m.body))
    still_open = periods.window_open(period)
    return MissingReports(
        prefecture=prefecture.code,
        period=periods.fmt(period),
        due_at=periods.due_at(period).isoformat(),
        window_open=still_open,
        expected=len(bodies),
        pending=not_in if still_open else [],
        missing=[] if still_open else not_in,
    )


def own_missing(session: Session, principal: Principal, body: Body) -> OwnMissing:
    """The body's periods since tracking began whose report is overdue and still missing."""
    ensure_readable(principal, body)
    now = utcnow()
    last_due = periods.current()
    while periods.window_open(last_due, now):
        last_due = periods.add_months(last_due, -1)
    reported = set(session.scalars(select(BodyPeriod.period).where(BodyPeriod.body_id == body.id)))
    span = periods.span(periods.TRACKING_START, last_due) if last_due >= periods.TRACKING_START else []
    return OwnMissing(body=body.code, periods=[periods.fmt(p) for p in span if p not in reported])


Sort = Literal["code", "completion", "-completion", "change", "-change", "name"]
SORTS: tuple[Sort, ...] = get_args(Sort)


def filter_and_sort(
    table: ReviewTable, *, sort: str, kind: str | None, status: str | None, below: float | None
) -> ReviewTable:
    """The review table narrowed to a kind, a report status or a completion ceiling, in the chosen order."""
    rows = [
        r
        for r in table.rows
        if (kind is None or r.kind == kind)
        and (status is None or r.report_status == status)
        and (below is None or r.completion_rate < below)
    ]
    field = sort.lstrip("-")
    key = {
        "code": lambda r: r.body,
        "completion": lambda r: r.completion_rate,
        "change": lambda r: r.change,
        "name": lambda r: r.name,
    }[field]
    rows.sort(key=key, reverse=sort.startswith("-"))
    return table.model_copy(update={"rows": rows})


def review_export(session: Session, prefecture: Body, table: ReviewTable) -> Sheet:
    """The review table as a spreadsheet (東京都_市区町村_2026-11), headed as on the page (rates in percent; one column
    per operation any municipality reports, by its Japanese name, in the catalog's order)."""
    catalog = load_catalog(session)
    present = {o.operation for r in table.rows for o in r.operations}
    ops = [o for o in catalog.operations if o.code in present]
    op_codes = [o.code for o in ops]
    headers = [
        "団体コード",
        "団体名",
        "種別",
        "完了率(%)",
        "前月比(ポイント)",
        "報告状況",
        "最終報告月",
        "特定移行支援システム数",
        *[f"{o.short_name} 完了率(%)" for o in ops],
    ]
    rows = []
    for r in table.rows:
        rates = {o.operation: o.completion_rate for o in r.operations}
        rows.append(
            [
                r.body,
                r.name,
                labels.KIND_LABELS.get(r.kind, r.kind),
                round(r.completion_rate * 100, 1),
                round(r.change * 100, 1),
                labels.REPORT_STATUS_LABELS[r.report_status],
                r.last_reported or "",
                r.deferred_systems,
                *[round(rates[c] * 100, 1) if c in rates else "" for c in op_codes],
            ]
        )
    return Sheet(headers, rows, f"{prefecture.name}_市区町村_{table.period}")


def missing_export(prefecture: Body, listing: MissingReports) -> Sheet:
    """The reminder list as a spreadsheet (東京都_未報告_2026-11; 受付中 while the window is open, else 未報告)."""
    headers = ["団体コード", "団体名", "種別", "状況", "最終報告月", "未報告の月数", "対象月", "報告期限"]
    due = listing.due_at[:10]
    state = "受付中" if listing.window_open else "未報告"
    rows = [
        [
            m.body,
            m.name,
            labels.KIND_LABELS.get(m.kind, m.kind),
            state,
            m.last_reported or "未報告",
            m.months_missing,
            listing.period,
            due,
        ]
        for m in listing.pending + listing.missing
    ]
    return Sheet(headers, rows, f"{prefecture.name}_未報告_{listing.period}")
