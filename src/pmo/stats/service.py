"""Aggregate-only statistics: progress, trend, distribution, reporting, systems, advisers.

Every figure is computed from the period matrices (one byte per body × operation × step) or the
registers, and every group is a union of atoms of more than k bodies (groups.py), so no figure needs
hiding: `suppressed` stays null."""

from dataclasses import dataclass
from datetime import datetime
from typing import get_args

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo import caching, messages, periods
from pmo.config import get_settings
from pmo.errors import InvalidInput
from pmo.models import AdviserRequest, AdviserVisit, Operation, System, SystemVersion
from pmo.reports.grid import DONE, N_STEPS, NOT_APPLICABLE, Catalog
from pmo.stats.groups import (
    check_atoms,
    check_combination,
    group_mask,
    kinds_in,
    parse_kind,
)
from pmo.stats.matrix import Directory, cache
from pmo.stats.schemas import SystemsBy, TargetState, TrackState
from pmo.stats.summary import PeriodSummary
from pmo.systems.schemas import REASON_LABELS

BY_CHOICES = ("none", "operation", "step", "operation,step", "prefecture", "prefecture,operation", "kind", "phase")


_checked: caching.Cache[tuple[int, int], Directory] = caching.Cache("stats_atoms_checked", max_entries=4)


def published(directory: Directory) -> Directory:
    """The directory, once it is known that every atom has more than k bodies (else 503)."""
    key = (id(directory), get_settings().suppression_k)
    if _checked.get(key) is not directory:  # the value, not only the id: ids are reused after collection
        check_atoms(directory.prefecture, directory.stats_kind, key[1])
        _checked.put(key, directory)
    return directory


def _mask(directory: Directory, prefecture: str | None, kind: str | None) -> np.ndarray:
    return group_mask(directory.stats_kind, directory.prefecture, prefecture, kind)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _figures(counts: np.ndarray, n_bodies: int, n_reported: int, n_systems: int, steps_per_system: int) -> dict:
    done, in_progress, not_started, not_applicable = (int(c) for c in counts)
    total = n_systems * steps_per_system
    return {
        "n_bodies": n_bodies,
        "n_reported": n_reported,
        "n_systems": n_systems,
        "done": done,
        "in_progress": in_progress,
        "not_started": not_started,
        "not_applicable": not_applicable,
        "completion_rate": _rate(done + not_applicable, total),
        "in_progress_rate": _rate(in_progress, total),
        "not_started_rate": _rate(not_started, total),
    }


@dataclass(frozen=True)
class Query:
    period: int
    by: tuple[str, ...]
    prefecture: str | None
    kind: str | None
    operation: str | None


def parse_query(
    period: str | None, by: str, prefecture: str | None, kind: str | None, operation: str | None, directory: Directory
) -> Query:
    """Validated parameters; 422 naming the one that is wrong."""
    if by not in BY_CHOICES:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(BY_CHOICES)} のいずれかです（{by!r}）。", input=by)
    if operation is not None and operation not in directory.catalog.op_by_code:
        raise InvalidInput.at(["query", "operation"], messages.unknown_operation(operation), input=operation)
    dims = tuple(by.split(",")) if by != "none" else ()
    kind = parse_kind(kind)
    check_combination(prefecture, kind, dims)
    return Query(default_period(period), dims, prefecture, kind, operation)


def default_period(text: str | None, loc: str = "period") -> int:
    """A statistics period: given, or the month before the current one (MIC publishes a month later)."""
    if text is None:
        return periods.add_months(periods.current(), -1)
    period = periods.parse(text)
    if period is None:
        raise InvalidInput.at(["query", loc], f"{loc} は YYYY-MM 形式です（{text!r}）。", input=text)
    if not periods.FIRST_PERIOD <= period <= periods.current():
        raise InvalidInput.at(
            ["query", loc], f"{loc} は {periods.fmt(periods.FIRST_PERIOD)} から今月までです。", input=text
        )
    return period


def progress_cells(directory: Directory, summary: PeriodSummary, q: Query) -> list[dict]:
    """The cells of one progress table for one period, as sums of the period's atoms."""
    catalog = directory.catalog
    atoms = directory.atoms
    ops = [catalog.op_by_code[q.operation]] if q.operation else catalog.operations
    pref_groups = sorted(set(directory.prefecture)) if "prefecture" in q.by else [q.prefecture]
    kind_groups = kinds_in(directory.stats_kind, q.prefecture) if "kind" in q.by else [q.kind]
    cells = []
    for pref in pref_groups:
        for kind in kind_groups:
            mask = group_mask(atoms.stats_kind, atoms.prefecture, pref, kind)
            if not mask.any():  # the directory already says the group is empty
                continue
            keys = {"prefecture": pref} if "prefecture" in q.by else {}
            if "kind" in q.by:
                keys["kind"] = kind
            group = _Group(
                counts=summary.group_counts(mask, pref, kind),
                applies=summary.applies[mask].sum(axis=0),
                applies_reported=summary.applies_reported[mask].sum(axis=0),
                any_applies=int(summary.any_applies[mask].sum()),
                any_reported=int(summary.any_reported[mask].sum()),
            )
            cells.extend(_cells_for_group(catalog, q, ops, group, keys))
    return cells


@dataclass(frozen=True)
class _Group:
    counts: np.ndarray  # (4, width) bodies per status per cell column
    applies: np.ndarray  # bodies that report each operation slot
    applies_reported: np.ndarray  # of those, reported this period
    any_applies: int  # bodies that report any operation
    any_reported: int


def _cells_for_group(catalog: Catalog, q: Query, ops: list[Operation], group: _Group, keys: dict) -> list[dict]:
    n_bodies = {op.id: int(group.applies[op.id - 1]) for op in ops}
    n_reported = {op.id: int(group.applies_reported[op.id - 1]) for op in ops}
    active_ops = [op for op in ops if n_bodies[op.id]]
    if not active_ops:
        return []
    counts = group.counts

    def block(op: Operation) -> np.ndarray:
        return counts[:, (op.id - 1) * N_STEPS : op.id * N_STEPS]  # (4, 40)

    if q.operation:  # the bodies of the group that report the one operation asked for
        group_bodies, group_reported = n_bodies[ops[0].id], n_reported[ops[0].id]
    else:
        group_bodies, group_reported = group.any_applies, group.any_reported

    def cell(extra_keys: dict, figures: dict) -> dict:
        return {**keys, **extra_keys, "n_bodies": figures.pop("n_bodies"), "suppressed": None, **figures}

    dims = [d for d in q.by if d in ("operation", "step", "phase")]
    result = []
    if dims == ["operation"]:
        for op in active_ops:
            result.append(
                cell(
                    {"operation": op.code},
                    _figures(block(op).sum(axis=1), n_bodies[op.id], n_reported[op.id], n_bodies[op.id], N_STEPS),
                )
            )
    elif dims == ["operation", "step"]:
        for op in active_ops:
            b = block(op)
            for j, step in enumerate(catalog.steps):
                result.append(
                    cell(
                        {"operation": op.code, "step": step.code},
                        _figures(b[:, j], n_bodies[op.id], n_reported[op.id], n_bodies[op.id], 1),
                    )
                )
    elif dims in (["step"], ["phase"]):
        systems = sum(n_bodies[op.id] for op in active_ops)
        per_step: np.ndarray = np.add.reduce([block(op) for op in active_ops])  # (4, 40)
        if dims == ["step"]:
            for j, step in enumerate(catalog.steps):
                result.append(
                    cell({"step": step.code}, _figures(per_step[:, j], group_bodies, group_reported, systems, 1))
                )
        else:
            for phase in dict.fromkeys(s.phase for s in catalog.steps):
                idx = [j for j, s in enumerate(catalog.steps) if s.phase == phase]
                result.append(
                    cell(
                        {"phase": phase},
                        _figures(per_step[:, idx].sum(axis=1), group_bodies, group_reported, systems, len(idx)),
                    )
                )
    else:
        systems = sum(n_bodies[op.id] for op in active_ops)
        total = sum(block(op).sum(axis=1) for op in active_ops)
        result.append(cell({}, _figures(total, group_bodies, group_reported, systems, N_STEPS)))
    return result


def progress(session: Session, q: Query) -> tuple[dict, int]:
    """The progress table for q, and the period it depends on (for caching)."""
    directory = published(cache.get_directory(session))
    summary = cache.get_summary(session, q.period)
    return _envelope(q, summary, progress_cells(directory, summary, q)), q.period


def _envelope(q: Query, summary: PeriodSummary, cells: list[dict]) -> dict:
    return {
        "period": periods.fmt(q.period),
        "by": list(q.by),
        "filters": {"prefecture": q.prefecture, "kind": q.kind, "operation": q.operation},
        "k": get_settings().suppression_k,
        "as_of": summary.as_of.isoformat() if summary.as_of else None,
        "cells": cells,
    }


def trend(session: Session, q: Query, start: int, end: int, interval: str) -> tuple[dict, int]:
    """Progress cells for every period from start to end (or each fiscal year's last period)."""
    if start > end:
        raise InvalidInput.at(["query", "from"], "from は to 以前の月を指定してください。")
    chosen = periods.span(start, end)
    if interval == "fiscal_year":
        last_of_year: dict[int, int] = {}
        for p in chosen:
            last_of_year[periods.fiscal_year(p)] = p
        chosen = list(last_of_year.values())
    directory = published(cache.get_directory(session))
    summaries = cache.get_summaries(session, chosen)
    series = []
    as_of = None
    for period in chosen:
        summary = summaries[period]
        as_of = max(filter(None, (as_of, summary.as_of)), default=None)
        pq = Query(period, q.by, q.prefecture, q.kind, q.operation)
        for c in progress_cells(directory, summary, pq):
            series.append({"period": periods.fmt(period), "fiscal_year": periods.fiscal_year(period), **c})
    body = {
        "from": periods.fmt(start),
        "to": periods.fmt(end),
        "interval": interval,
        "by": list(q.by),
        "filters": {"prefecture": q.prefecture, "kind": q.kind, "operation": q.operation},
        "k": get_settings().suppression_k,
        "as_of": as_of.isoformat() if as_of else None,
        "cells": series,
    }
    return body, end


BIN_LABELS = [f"{i * 10}–{i * 10 + 10}%" for i in range(10)] + ["100%"]


def distribution(session: Session, period: int, operation: str | None) -> tuple[dict, int]:
    """How many bodies are at each level of completion, nationally (the mean hides the delayed cohort)."""
    directory = published(cache.get_directory(session))
    if operation is not None and operation not in directory.catalog.op_by_code:
        raise InvalidInput.at(["query", "operation"], messages.unknown_operation(operation), input=operation)
    matrix = cache.get_matrix(session, period)
    ops = [directory.catalog.op_by_code[operation]] if operation else directory.catalog.operations
    done = np.zeros(len(directory.body_ids))
    systems = np.zeros(len(directory.body_ids))
    for op in ops:
        b = matrix.statuses[:, (op.id - 1) * N_STEPS : op.id * N_STEPS]
        applies = b[:, 0] != 0
        done += np.where(applies, ((b == DONE) | (b == NOT_APPLICABLE)).sum(axis=1), 0)
        systems += applies
    bodies = systems > 0
    completion = done[bodies] / (systems[bodies] * N_STEPS)
    index = np.where(completion >= 1.0, 10, np.minimum((completion * 10).astype(int), 9))
    counts = np.bincount(index, minlength=11).tolist()
    bins = [
        {
            "bin": label,
            "lower": i / 10 if i < 10 else 1.0,
            "upper": (i + 1) / 10 if i < 10 else 1.0,
            "n_bodies": count,
            "suppressed": None,
        }
        for i, (label, count) in enumerate(zip(BIN_LABELS, counts, strict=True))
    ]
    k = get_settings().suppression_k
    body = {
        "period": periods.fmt(period),
        "operation": operation,
        "k": k,
        "n_bodies": int(bodies.sum()),
        "n_reported": int((matrix.reported & bodies).sum()),
        "mean_completion": round(float(completion.mean()), 6) if completion.size else None,
        "median_completion": round(float(np.median(completion)), 6) if completion.size else None,
        "as_of": matrix.as_of.isoformat() if matrix.as_of else None,
        "bins": bins,
    }
    return body, period


def _groups(directory: Directory, by: str) -> list[tuple[dict, np.ndarray]]:
    """(keys, mask) of each non-empty group of a by=none / prefecture / kind table."""
    pairs: list[tuple[dict[str, str], tuple[str | None, str | None]]]
    if by == "prefecture":
        pairs = [({"prefecture": p}, (p, None)) for p in sorted(set(directory.prefecture))]
    elif by == "kind":
        pairs = [({"kind": k}, (None, k)) for k in kinds_in(directory.stats_kind, None)]
    else:
        pairs = [({}, (None, None))]
    masks = [(keys, _mask(directory, *group)) for keys, group in pairs]
    return [(keys, mask) for keys, mask in masks if mask.any()]


def reporting(session: Session, period: int, by: str) -> tuple[dict, int]:
    """Expected, reported, on-time and late reports by prefecture (its municipalities) or kind, or nationally;
    the bodies yet to report are `pending` until the due time and `missing` after it."""
    if by not in ("none", "prefecture", "kind"):
        raise InvalidInput.at(["query", "by"], f"by は none / prefecture / kind のいずれかです（{by!r}）。", input=by)
    directory = published(cache.get_directory(session))
    summary = cache.get_summary(session, period)
    still_open = periods.window_open(period)
    atoms = directory.atoms
    cells = []
    for keys, mask in _groups(directory, by):
        in_group = group_mask(atoms.stats_kind, atoms.prefecture, keys.get("prefecture"), keys.get("kind"))
        expected = int(mask.sum())
        reported, on_time = int(summary.reported[in_group].sum()), int(summary.on_time[in_group].sum())
        cells.append(
            {
                **keys,
                "n_bodies": expected,
                "suppressed": None,
                "n_reported": reported,
                "on_time": on_time,
                "late": reported - on_time,
                "pending": expected - reported if still_open else 0,
                "missing": 0 if still_open else expected - reported,
                "reported_rate": _rate(reported, expected),
                "on_time_rate": _rate(on_time, expected),
            }
        )
    body = {
        "period": periods.fmt(period),
        "by": by,
        "due_at": periods.due_at(period).isoformat(),
        "window_open": still_open,
        "k": get_settings().suppression_k,
        "as_of": summary.as_of.isoformat() if summary.as_of else None,
        "cells": cells,
    }
    return body, period


SYSTEM_BY = get_args(SystemsBy)
TARGET_STATES = get_args(TargetState)
TRACK_STATES = get_args(TrackState)
SOON_MONTHS = 6
AT_RISK_BELOW = 0.8  # share of the operation's steps 完了済み (or 対象外) under which a near target is at risk

Deferred = tuple[int, int, str | None, int | None]  # body id, operation id, reason, target month


def _register(session: Session, period: int | None) -> tuple[list[Deferred], datetime | None]:
    """(body id, reason, target) of every deferred system, now or as of the end of period, and the newest change."""
    if period is None:
        rows = session.execute(
            select(System.body_id, System.operation_id, System.deferral_reason, System.deferral_target).where(
                System.deferred.is_(True)
            )
        ).all()
        register: list[Deferred] = [(body_id, op_id, reason, target) for body_id, op_id, reason, target in rows]
        return register, session.scalar(select(func.max(System.updated_at)))
    cutoff = periods.end_of(period)
    latest: dict[tuple[int, int], tuple[bool, str | None, int | None]] = {}
    newest = None
    for body_id, op_id, deferred, reason, target, at in session.execute(
        select(
            SystemVersion.body_id,
            SystemVersion.operation_id,
            SystemVersion.deferred,
            SystemVersion.deferral_reason,
            SystemVersion.deferral_target,
            SystemVersion.changed_at,
        )
        .where(SystemVersion.changed_at < cutoff)
        .order_by(SystemVersion.version)
    ):
        latest[(body_id, op_id)] = (deferred, reason, target)
        newest = max(filter(None, (newest, at)), default=None)
    deferred_now = [(body_id, op_id, reason, target) for (body_id, op_id), (on, reason, target) in latest.items() if on]
    return deferred_now, newest


def target_state(target: int | None, month: int) -> TargetState:
    """passed (the target month is before month), within_6_months, later, or no_target."""
    if target is None:
        return "no_target"
    if target < month:
        return "passed"
    return "within_6_months" if periods.months_between(month, target) < SOON_MONTHS else "later"


def track_state(target: int | None, month: int, completion: float) -> TrackState:
    """late (the target month has passed), at_risk (it is within 6 months and the body has completed under
    80 % of the operation's steps), on_track, or no_target."""
    if target is None:
        return "no_target"
    if target < month:
        return "late"
    near = periods.months_between(month, target) < SOON_MONTHS
    return "at_risk" if near and completion < AT_RISK_BELOW else "on_track"


def _completions(session: Session, directory: Directory, register: list[Deferred], period: int) -> list[float]:
    """Each deferred system's operation: the share of its steps the body had completed in period."""
    cache.sync(session)  # the register is read fresh; the progress beside it must be as fresh
    matrix = cache.get_matrix(session, period)
    rows = [directory.row_of.get(body_id) for body_id, _, _, _ in register]
    return [
        0.0 if row is None else matrix.operation_done(row, op_id)
        for row, (_, op_id, _, _) in zip(rows, register, strict=True)
    ]


def systems(session: Session, by: str, period: int | None = None) -> dict:
    """特定移行支援システム: deferred systems and the bodies that have them, by reason, by where their own
    target month stands (passed / within 6 months / later / none), on track for it or not, by prefecture (its
    municipalities) or kind — the register now (progress as reported for the month being reported), or as it
    stood at the end of a period."""
    if by not in SYSTEM_BY:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(SYSTEM_BY)} のいずれかです（{by!r}）。", input=by)
    directory = published(cache.get_directory(session))
    register, as_of = _register(session, period)
    rows_of = np.array([directory.row_of.get(body_id, -1) for body_id, _, _, _ in register], dtype=np.int64)
    month = period if period is not None else periods.current()
    dims = [d for d in by.split(",") if d != "none"]
    labels = {
        "reason": np.array([str(reason) for _, _, reason, _ in register], dtype=object),
        "target": np.array([target_state(target, month) for _, _, _, target in register], dtype=object),
    }
    if "track" in dims:
        done = _completions(session, directory, register, period or periods.add_months(month, -1))
        tracks = [track_state(target, month, c) for (_, _, _, target), c in zip(register, done, strict=True)]
        labels["track"] = np.array(tracks, dtype=object)
    group_by = "prefecture" if "prefecture" in dims else ("kind" if "kind" in dims else "none")
    split_by = next((d for d in dims if d in labels), None)
    if split_by == "reason":
        split: list[str | None] = [*REASON_LABELS, *sorted(set(labels["reason"]) - set(REASON_LABELS))]
    else:
        split = {"target": list(TARGET_STATES), "track": list(TRACK_STATES)}.get(split_by or "", [None])
    cells = []
    for keys, mask in _groups(directory, group_by):
        in_group = _members(mask, rows_of)
        for value in split:
            chosen = in_group if split_by is None else in_group & (labels[split_by] == value)
            cells.append(
                {
                    **keys,
                    **({split_by: value} if split_by else {}),
                    "n_bodies": int(mask.sum()),
                    "suppressed": None,
                    "deferred_systems": int(chosen.sum()),
                    "bodies_with_deferred": len(set(rows_of[chosen].tolist())),
                }
            )
    return {
        "by": dims,
        "period": periods.fmt(period),
        "k": get_settings().suppression_k,
        "as_of": as_of.isoformat() if as_of else None,
        "cells": cells,
    }


def _members(mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which records (given by their body's matrix row, -1 for none) belong to the group in mask."""
    members: np.ndarray = (rows >= 0) & mask[np.maximum(rows, 0)]
    return members


def advisers(session: Session, by: str) -> dict:
    """Adviser requests and visits by prefecture (its municipalities) or nationally."""
    if by not in ("none", "prefecture"):
        raise InvalidInput.at(["query", "by"], f"by は none / prefecture のいずれかです（{by!r}）。", input=by)
    directory = published(cache.get_directory(session))
    visits = dict(
        session.execute(select(AdviserVisit.request_id, func.count()).group_by(AdviserVisit.request_id)).all()
    )
    requests = session.execute(
        select(AdviserRequest.id, AdviserRequest.body_id).where(AdviserRequest.state != "cancelled")
    ).all()
    rows_of = np.array([directory.row_of.get(body_id, -1) for _, body_id in requests], dtype=np.int64)
    n_visits = np.array([visits.get(req_id, 0) for req_id, _ in requests], dtype=np.int64)
    cells = []
    for keys, mask in _groups(directory, by):
        chosen = _members(mask, rows_of)
        cells.append(
            {
                **keys,
                "n_bodies": int(mask.sum()),
                "suppressed": None,
                "requests": int(chosen.sum()),
                "bodies": len(set(rows_of[chosen].tolist())),
                "visits": int(n_visits[chosen].sum()),
            }
        )
    return {"by": by, "k": get_settings().suppression_k, "cells": cells}
