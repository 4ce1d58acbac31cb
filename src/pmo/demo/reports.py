"""A realistic national reporting history, generated deterministically and stored through the
same writer as the API (write_revisions), in one transaction.

Each body × operation follows an S-shaped curve over 40 steps whose midpoint depends on the body's
kind; about 9 % of systems are a delayed cohort stuck at early steps; some bodies finish the budget
steps early (out of order); some skip the RFI steps as 対象外 (joint procurement); reports come
monthly, some late, a few missing, a few corrected."""

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo import periods
from pmo.db import utcnow
from pmo.models import Body
from pmo.reports.cellgrid import CellGrid, Changes
from pmo.reports.grid import (
    DONE,
    IN_PROGRESS,
    NOT_APPLICABLE,
    Catalog,
    Position,
    Value,
    grid_position,
    grid_template,
    load_catalog,
)
from pmo.reports.writer import NewRevision, write_revisions

DEMO_START = 202206
# Midpoint of the S-curve in months after DEMO_START, by kind (2025-05 ≈ month 35 lands near 62 %).
MIDPOINT = {"designated_city": 27, "special_ward": 28, "city": 29, "prefecture": 28, "town": 30, "village": 31}
SPREAD = 7.0
# About 9 % of systems are delayed (MIC, 2025-05), concentrated in the bodies that struggle.
STRUGGLING_BODIES, DELAYED_IF_STRUGGLING, DELAYED_OTHERWISE = 0.15, 0.40, 0.035
RFI_STEPS = range(10, 15)  # S11–S15, skipped by bodies in joint procurement
DELAY_NOTES = (
    "ベンダーの対応要員が確保できず、スケジュールを見直し中。",
    "標準準拠システムの提供時期が未定のため、移行時期を調整中。",
    "現行システムがメインフレームで、移行方式を検討中。",
    "独自施策との調整に時間を要している。",
)


@dataclass
class DemoResult:
    bodies: int
    revisions: int
    cell_versions: int
    first_period: int
    last_period: int


def _step_months(
    rng: random.Random, midpoint: float, horizon: int, delayed: bool
) -> list[tuple[int | None, int | None, int]]:
    """(in-progress month, done month, planned duration) of each step, in months after DEMO_START."""
    stuck_at = rng.randint(3, 10) if delayed else None
    months = []
    for i in range(40):
        p = (i + 0.5) / 40
        done = midpoint + SPREAD * math.log(p / (1 - p)) + rng.gauss(0, 1.2)
        duration = rng.randint(1, 4)
        start = done - duration
        if stuck_at is not None and i >= stuck_at:
            start = start if i == stuck_at else horizon + 99
            done = horizon + 99
        s = max(0, round(start))
        d = max(s, round(done))
        months.append((s if s <= horizon else None, d if d <= horizon else None, duration))
    return months


def _cell_events(rng: random.Random, body: Body, catalog: Catalog, horizon: int) -> dict[int, dict[Position, Value]]:
    """The changes each month (index after DEMO_START) brings to the body's cells."""
    events: dict[int, dict[Position, Value]] = defaultdict(dict)
    body_mid = MIDPOINT[body.kind] + rng.gauss(0, 3.5)
    joint_procurement = rng.random() < 0.12
    delay_share = DELAYED_IF_STRUGGLING if rng.random() < STRUGGLING_BODIES else DELAYED_OTHERWISE
    for op in catalog.operations_for(body):
        delayed = rng.random() < delay_share
        steps = _step_months(rng, body_mid + rng.gauss(0, 2.0), horizon, delayed)
        if rng.random() < 0.06:  # budget secured before the earlier analysis steps are finished
            early, anchor = rng.choice((16, 17)), rng.randint(5, 9)
            s, _, dur = steps[anchor]
            if s is not None:
                steps[early] = (s, min(s + 1, horizon), dur)
        for i, (start, done, duration) in enumerate(steps):
            key = grid_position((op.id, catalog.steps[i].id))
            if joint_procurement and i in RFI_STEPS:
                events[0][key] = (NOT_APPLICABLE, None, None, None, "共同調達のため対象外")
                continue
            plan_start = periods.add_months(DEMO_START, start) if start is not None else None
            plan_end = periods.add_months(DEMO_START, start + duration) if start is not None else None
            note = rng.choice(DELAY_NOTES) if delayed and done is None and start is not None else None
            if start is not None and (done is None or done > start):
                events[start][key] = (IN_PROGRESS, plan_start, plan_end, None, note)
            if done is not None:
                events[done][key] = (DONE, plan_start, plan_end, periods.add_months(DEMO_START, done), None)
    return events


def _submitted_at(rng: random.Random, period: int, late: bool) -> datetime:
    following = periods.add_months(period, 1)
    day = rng.randint(11, 24) if late else rng.randint(1, 10)
    local = datetime(
        following // 100, following % 100, day, rng.randint(9, 18), rng.randint(0, 59), tzinfo=periods.zone()
    )
    return local.astimezone(UTC)


def generate(
    session: Session,
    *,
    seed: int = 2022,
    now: datetime | None = None,
    only: list[str] | None = None,
    months: int | None = None,
) -> DemoResult:
    """Write the demo history (every body or the given codes; monthly since 2022-06, or only the last `months`
    months, the first of them carrying every earlier change) in the caller's transaction."""
    now = now or utcnow()
    catalog = load_catalog(session)
    query = select(Body).order_by(Body.id)
    bodies = list(session.scalars(query.where(Body.code.in_(only)) if only else query))
    last_period = periods.add_months(periods.current(now), -1)
    horizon = periods.months_between(DEMO_START, last_period)
    first_month = max(0, horizon + 1 - months) if months else 0
    revisions = versions = 0
    for body in bodies:
        rng = random.Random(f"{seed}-{body.code}")
        events = _cell_events(rng, body, catalog, horizon)
        sloppy = rng.random() < 0.08  # a few bodies are often late or silent
        pending: dict[Position, Value] = {}
        batch: list[NewRevision] = []
        for month in range(horizon + 1):
            period = periods.add_months(DEMO_START, month)
            pending.update(events.get(month, {}))
            if month < first_month:
                continue  # before the history kept: its changes arrive with the first report kept
            if rng.random() < (0.12 if sloppy else 0.015) and month < horizon:
                continue  # missing report: its changes arrive with the next one
            late = rng.random() < (0.35 if sloppy else 0.06)
            submitted = _submitted_at(rng, period, late)
            if submitted > now:
                continue
            batch.append(
                NewRevision(
                    body_id=body.id,
                    period=period,
                    revision=1,
                    submitted_at=submitted,
                    account_id=None,
                    submitted_by=f"{body.name} 標準化担当",
                    late=submitted > periods.due_at(period),
                    source="demo",
                    changes=Changes.of(pending),
                )
            )
            versions += len(pending)
            if pending and rng.random() < 0.015:  # a correction a few days later
                key = rng.choice(list(pending))
                value = pending[key]
                corrected = (value[0], value[1], value[2], value[3], "報告内容を訂正しました。")
                when = submitted + timedelta(days=rng.randint(1, 5))
                if when <= now:
                    batch.append(
                        NewRevision(
                            body_id=body.id,
                            period=period,
                            revision=2,
                            submitted_at=when,
                            account_id=None,
                            submitted_by=f"{body.name} 標準化担当",
                            late=when > periods.due_at(period),
                            source="demo",
                            changes=Changes.of({key: corrected}),
                        )
                    )
                    versions += 1
            pending = {}
        template = grid_template(catalog, body)
        write_revisions(session, body.id, batch, base_grid=template, cells=CellGrid.blank(template))
        revisions += len(batch)
    session.flush()
    return DemoResult(len(bodies), revisions, versions, periods.add_months(DEMO_START, first_month), last_period)
