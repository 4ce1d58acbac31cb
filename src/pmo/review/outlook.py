"""A prefecture's 特定移行支援 systems after the FY2025 deadline: each of its municipalities' deferred systems
against its own target month — late, at risk or on track by the body's progress on that operation."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo import periods
from pmo.models import Body, Operation, System
from pmo.stats.matrix import cache
from pmo.stats.service import track_state
from pmo.systems.schemas import REASON_LABELS

TRACK_LABELS = {"late": "遅延", "at_risk": "要注意", "on_track": "順調", "no_target": "目標月なし"}
TRACK_ORDER = list(TRACK_LABELS)


@dataclass(frozen=True)
class DeferredOutlook:
    body: str
    body_name: str
    operation: str
    reason: str
    target: int | None
    completion: float
    track: str
    track_label: str


def deferred_outlook(session: Session, pref: Body) -> list[DeferredOutlook]:
    """Every deferred system of the prefecture's municipalities, the late first, then at risk, on track, none;
    progress as reported for the month being reported."""
    cache.sync(session)
    directory = cache.get_directory(session)
    month = periods.current()
    matrix = cache.get_matrix(session, periods.add_months(month, -1))
    rows = session.execute(
        select(
            Body.id, Body.code, Body.name, Operation.id, Operation.name, System.deferral_reason, System.deferral_target
        )
        .join(System, System.body_id == Body.id)
        .join(Operation, Operation.id == System.operation_id)
        .where(System.deferred.is_(True), Body.prefecture_code == pref.prefecture_code, Body.kind != "prefecture")
    ).all()
    out = []
    for body_id, code, name, op_id, op_name, reason, target in rows:
        row = directory.row_of.get(body_id)
        done = matrix.operation_done(row, op_id) if row is not None else 0.0
        track = track_state(target, month, done)
        label = REASON_LABELS.get(reason or "", reason or "")
        out.append(DeferredOutlook(code, name, op_name, label, target, done, track, TRACK_LABELS[track]))
    return sorted(out, key=lambda d: (TRACK_ORDER.index(d.track), d.target or 999999, d.body))
