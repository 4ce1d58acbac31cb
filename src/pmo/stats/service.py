"""Aggregate-only statistics: progress, trend, distribution, reporting — with suppression.

Every figure is computed from the period matrices (one byte per body × operation × step) and every
group is a union of (prefecture, kind) atoms, so one suppression plan per universe covers them all."""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sqlalchemy.orm import Session

from pmo import periods
from pmo.config import get_settings
from pmo.errors import InvalidInput
from pmo.reports.grid import DONE, IN_PROGRESS, N_STEPS, NOT_APPLICABLE, NOT_STARTED
from pmo.stats.matrix import Directory, PeriodMatrix, cache
from pmo.stats.suppression import PRIMARY, SECONDARY, line_pattern, table_pattern

BY_CHOICES = ("none", "operation", "step", "operation,step", "prefecture", "prefecture,operation", "kind", "phase")
STATUSES = (DONE, IN_PROGRESS, NOT_STARTED, NOT_APPLICABLE)
ALL, MUNICIPAL = "all", "municipal"


@dataclass(frozen=True)
class Plan:
    """Suppression marks of atoms, prefecture totals and kind totals in one universe of bodies."""

    atoms: dict[tuple[str, str], str]
    rows: dict[str, str]
    cols: dict[str, str]


def _plan(sizes: dict[tuple[str, str], int], k: int, also: dict | None = None) -> Plan:
    row_sizes: dict[str, int] = {}
    col_sizes: dict[str, int] = {}
    for (pref, kind), n in sizes.items():
        row_sizes[pref] = row_sizes.get(pref, 0) + n
        col_sizes[kind] = col_sizes.get(kind, 0) + n
    rows = dict(zip(row_sizes, line_pattern(list(row_sizes.values()), k), strict=True))
    cols = dict(zip(col_sizes, line_pattern(list(col_sizes.values()), k), strict=True))
    atoms = table_pattern(sizes, k, also)
    for atom in sizes:  # a hidden total hides every atom in it, or they would add up to it
        if sizes[atom] and (rows.get(atom[0]) or cols.get(atom[1])) and atom not in atoms:
            atoms[atom] = SECONDARY
    return Plan(atoms, {r: m for r, m in rows.items() if m}, {c: m for c, m in cols.items() if m})


@lru_cache(maxsize=8)
def _plans(directory_id: int, k: int) -> dict[str, Plan]:
    directory = cache.directory
    assert directory is not None and id(directory) == directory_id
    sizes: dict[tuple[str, str], int] = {}
    for pref, kind in zip(directory.prefecture, directory.kind, strict=True):
        sizes[(str(pref), str(kind))] = sizes.get((str(pref), str(kind)), 0) + 1
    municipal = _plan({a: n for a, n in sizes.items() if a[1] != "prefecture"}, k)
    # Figures over all bodies (the two operations prefectures report, and every all-operations figure)
    # hide at least what the municipal tables hide: otherwise overall − per-operation would expose them.
    return {MUNICIPAL: municipal, ALL: _plan(sizes, k, municipal.atoms)}


def plans_for(directory: Directory) -> dict[str, Plan]:
    """The suppression plans of both universes (all bodies; municipalities only)."""
    return _plans(id(directory), get_settings().suppression_k)


def group_mark(plan: Plan, prefecture: str | None, kind: str | None) -> str | None:
    """Whether a group (a prefecture, a kind, both, or neither) is suppressed, and why."""
    if prefecture and kind:
        return plan.atoms.get((prefecture, kind))
    if prefecture:
        return plan.rows.get(prefecture)
    if kind:
        return plan.cols.get(kind)
    return None


def _universe(directory: Directory, op_ids: list[int]) -> str:
    return ALL if any(directory.catalog.op_by_id[o].for_prefectures for o in op_ids) else MUNICIPAL


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _figures(counts: np.ndarray, n_bodies: int, n_reported: int, n_systems: int, steps_per_system: int) -> dict:
    done, in_progress, not_started, not_applicable = (int(c) for c in counts)
    total = n_systems * steps_per_system
    return {
        "n_bodies": n_bodies, "n_reported": n_reported, "n_systems": n_systems,
        "done": done, "in_progress": in_progress, "not_started": not_started, "not_applicable": not_applicable,
        "completion_rate": _rate(done + not_applicable, total),
        "in_progress_rate": _rate(in_progress, total),
        "not_started_rate": _rate(not_started, total),
    }


SUPPRESSED_FIGURES = dict.fromkeys(
    ("n_reported", "n_systems", "done", "in_progress", "not_started", "not_applicable", "completion_rate",
     "in_progress_rate", "not_started_rate")
)


@dataclass(frozen=True)
class Query:
    period: int
    by: tuple[str, ...]
    prefecture: str | None
    kind: str | None
    operation: str | None


def parse_query(period: str | None, by: str, prefecture: str | None, kind: str | None, operation: str | None,
                directory: Directory) -> Query:
    """Validated parameters; 422 naming the one that is wrong."""
    if by not in BY_CHOICES:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(BY_CHOICES)} のいずれかです（{by!r}）。", input=by)
    if operation is not None and operation not in directory.catalog.op_by_code:
        raise InvalidInput.at(["query", "operation"], f"業務コード {operation!r} はありません。", input=operation)
    return Query(default_period(period), tuple(by.split(",")) if by != "none" else (), prefecture, kind, operation)


def default_period(text: str | None, loc: str = "period") -> int:
    """A statistics period: given, or the month before the current one (MIC publishes a month later)."""
    if text is None:
        return periods.add_months(periods.current(), -1)
    period = periods.parse(text)
    if period is None:
        raise InvalidInput.at(["query", loc], f"{loc} は YYYY-MM 形式です（{text!r}）。", input=text)
    if not periods.FIRST_PERIOD <= period <= periods.current():
        raise InvalidInput.at(["query", loc], f"{loc} は {periods.fmt(periods.FIRST_PERIOD)} から今月までです。", input=text)
    return period


def progress_cells(directory: Directory, matrix: PeriodMatrix, q: Query) -> list[dict]:
    """The cells of one progress table for one period."""
    catalog = directory.catalog
    plans = plans_for(directory)
    ops = [catalog.op_by_code[q.operation]] if q.operation else catalog.operations
    pref_groups = sorted(set(directory.prefecture)) if "prefecture" in q.by else [q.prefecture]
    kind_groups = [q.kind]
    if "kind" in q.by:
        kind_groups = [k for k in ("prefecture", "designated_city", "city", "special_ward", "town", "village")
                       if k in set(directory.kind)]
    cells = []
    for pref in pref_groups:
        for kind in kind_groups:
            mask = np.ones(len(directory.body_ids), dtype=bool)
            if pref:
                mask &= directory.prefecture == pref
            if kind:
                mask &= directory.kind == kind
            if not mask.any():
                continue
            sub = matrix.statuses[mask]
            reported = matrix.reported[mask]
            counts = np.stack([(sub == s).sum(axis=0) for s in STATUSES])  # (4, width)
            keys = {"prefecture": pref} if "prefecture" in q.by else {}
            if "kind" in q.by:
                keys["kind"] = kind
            cells.extend(_cells_for_group(directory, plans, q, ops, pref, kind, sub, reported, counts, keys))
    return cells


def _cells_for_group(directory, plans, q, ops, pref, kind, sub, reported, counts, keys) -> list[dict]:
    catalog = directory.catalog
    applies = {op.id: sub[:, (op.id - 1) * N_STEPS] != 0 for op in ops}  # which bodies report each operation
    n_bodies = {op.id: int(applies[op.id].sum()) for op in ops}
    n_reported = {op.id: int((applies[op.id] & reported).sum()) for op in ops}
    active_ops = [op for op in ops if n_bodies[op.id]]
    if not active_ops:
        return []
    block = lambda op: counts[:, (op.id - 1) * N_STEPS: op.id * N_STEPS]  # (4, 40)
    any_applies = np.logical_or.reduce([applies[op.id] for op in active_ops])
    group_bodies, group_reported = int(any_applies.sum()), int((any_applies & reported).sum())
    mark_all = group_mark(plans[_universe(directory, [o.id for o in active_ops])], pref, kind)

    def cell(extra_keys: dict, mark: str | None, figures: dict) -> dict:
        out = {**keys, **extra_keys, "n_bodies": figures["n_bodies"], "suppressed": mark}
        out.update(SUPPRESSED_FIGURES if mark else {k: v for k, v in figures.items() if k != "n_bodies"})
        return out

    dims = [d for d in q.by if d in ("operation", "step", "phase")]
    result = []
    if dims == ["operation"]:
        for op in active_ops:
            mark = group_mark(plans[_universe(directory, [op.id])], pref, kind)
            result.append(cell({"operation": op.code}, mark,
                               _figures(block(op).sum(axis=1), n_bodies[op.id], n_reported[op.id], n_bodies[op.id], N_STEPS)))
    elif dims == ["operation", "step"]:
        for op in active_ops:
            mark = group_mark(plans[_universe(directory, [op.id])], pref, kind)
            b = block(op)
            for j, step in enumerate(catalog.steps):
                result.append(cell({"operation": op.code, "step": step.code}, mark,
                                   _figures(b[:, j], n_bodies[op.id], n_reported[op.id], n_bodies[op.id], 1)))
    elif dims in (["step"], ["phase"]):
        systems = sum(n_bodies[op.id] for op in active_ops)
        per_step = sum(block(op) for op in active_ops)  # (4, 40)
        if dims == ["step"]:
            for j, step in enumerate(catalog.steps):
                result.append(cell({"step": step.code}, mark_all,
                                   _figures(per_step[:, j], group_bodies, group_reported, systems, 1)))
        else:
            for phase in dict.fromkeys(s.phase for s in catalog.steps):
                idx = [j for j, s in enumerate(catalog.steps) if s.phase == phase]
                result.append(cell({"phase": phase}, mark_all,
                                   _figures(per_step[:, idx].sum(axis=1), group_bodies, group_reported, systems, len(idx))))
    else:
        systems = sum(n_bodies[op.id] for op in active_ops)
        total = sum(block(op).sum(axis=1) for op in active_ops)
        result.append(cell({}, mark_all, _figures(total, group_bodies, group_reported, systems, N_STEPS)))
    return result


def progress(session: Session, q: Query) -> tuple[dict, int]:
    """The progress table for q, and the period it depends on (for caching)."""
    directory = cache.get_directory(session)
    matrix = cache.get_matrix(session, q.period)
    return _envelope(q, matrix, progress_cells(directory, matrix, q)), q.period


def _envelope(q: Query, matrix: PeriodMatrix, cells: list[dict]) -> dict:
    return {
        "period": periods.fmt(q.period),
        "by": list(q.by),
        "filters": {"prefecture": q.prefecture, "kind": q.kind, "operation": q.operation},
        "k": get_settings().suppression_k,
        "as_of": matrix.as_of.isoformat() if matrix.as_of else None,
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
    directory = cache.get_directory(session)
    matrices = cache.get_matrices(session, chosen)
    series = []
    as_of = None
    for period in chosen:
        matrix = matrices[period]
        as_of = max(filter(None, (as_of, matrix.as_of)), default=None)
        pq = Query(period, q.by, q.prefecture, q.kind, q.operation)
        for c in progress_cells(directory, matrix, pq):
            series.append({"period": periods.fmt(period), "fiscal_year": periods.fiscal_year(period), **c})
    body = {
        "from": periods.fmt(start), "to": periods.fmt(end), "interval": interval, "by": list(q.by),
        "filters": {"prefecture": q.prefecture, "kind": q.kind, "operation": q.operation},
        "k": get_settings().suppression_k, "as_of": as_of.isoformat() if as_of else None, "cells": series,
    }
    return body, end


BIN_LABELS = [f"{i * 10}–{i * 10 + 10}%" for i in range(10)] + ["100%"]


def distribution(session: Session, period: int, operation: str | None) -> tuple[dict, int]:
    """How many bodies are at each level of completion, nationally (the mean hides the delayed cohort)."""
    directory = cache.get_directory(session)
    if operation is not None and operation not in directory.catalog.op_by_code:
        raise InvalidInput.at(["query", "operation"], f"業務コード {operation!r} はありません。", input=operation)
    matrix = cache.get_matrix(session, period)
    ops = [directory.catalog.op_by_code[operation]] if operation else directory.catalog.operations
    done = np.zeros(len(directory.body_ids))
    systems = np.zeros(len(directory.body_ids))
    for op in ops:
        b = matrix.statuses[:, (op.id - 1) * N_STEPS: op.id * N_STEPS]
        applies = b[:, 0] != 0
        done += np.where(applies, ((b == DONE) | (b == NOT_APPLICABLE)).sum(axis=1), 0)
        systems += applies
    bodies = systems > 0
    completion = done[bodies] / (systems[bodies] * N_STEPS)
    index = np.where(completion >= 1.0, 10, np.minimum((completion * 10).astype(int), 9))
    counts = np.bincount(index, minlength=11).tolist()
    k = get_settings().suppression_k
    marks = line_pattern(counts, k)
    bins = [
        {"bin": label, "lower": i / 10 if i < 10 else 1.0, "upper": (i + 1) / 10 if i < 10 else 1.0,
         "n_bodies": None if mark else count, "suppressed": mark}
        for i, (label, count, mark) in enumerate(zip(BIN_LABELS, counts, marks, strict=True))
    ]
    body = {
        "period": periods.fmt(period), "operation": operation, "k": k, "n_bodies": int(bodies.sum()),
        "n_reported": int((matrix.reported & bodies).sum()),
        "mean_completion": round(float(completion.mean()), 6) if completion.size else None,
        "median_completion": round(float(np.median(completion)), 6) if completion.size else None,
        "as_of": matrix.as_of.isoformat() if matrix.as_of else None, "bins": bins,
    }
    return body, period


def reporting(session: Session, period: int, by: str) -> tuple[dict, int]:
    """Expected, reported, on-time and late reports by prefecture or kind (or nationally)."""
    if by not in ("none", "prefecture", "kind"):
        raise InvalidInput.at(["query", "by"], f"by は none / prefecture / kind のいずれかです（{by!r}）。", input=by)
    directory = cache.get_directory(session)
    matrix = cache.get_matrix(session, period)
    plan = plans_for(directory)[ALL]
    groups: list[tuple[str | None, str | None]] = [(None, None)]
    if by == "prefecture":
        groups = [(p, None) for p in sorted(set(directory.prefecture))]
    elif by == "kind":
        groups = [(None, k) for k in ("prefecture", "designated_city", "city", "special_ward", "town", "village")]
    cells = []
    for pref, kind in groups:
        mask = np.ones(len(directory.body_ids), dtype=bool)
        if pref:
            mask &= directory.prefecture == pref
        if kind:
            mask &= directory.kind == kind
        expected = int(mask.sum())
        if not expected:
            continue
        mark = group_mark(plan, pref, kind)
        keys = {"prefecture": pref} if by == "prefecture" else ({"kind": kind} if by == "kind" else {})
        reported, on_time = int((mask & matrix.reported).sum()), int((mask & matrix.on_time).sum())
        figures = {
            "n_reported": reported, "on_time": on_time, "late": reported - on_time, "missing": expected - reported,
            "reported_rate": _rate(reported, expected), "on_time_rate": _rate(on_time, expected),
        }
        cells.append({**keys, "n_bodies": expected, "suppressed": mark,
                      **({k: None for k in figures} if mark else figures)})
    body = {
        "period": periods.fmt(period), "by": by, "due_at": periods.due_at(period).isoformat(),
        "k": get_settings().suppression_k, "as_of": matrix.as_of.isoformat() if matrix.as_of else None, "cells": cells,
    }
    return body, period


SYSTEM_BY = ("none", "reason", "prefecture", "kind", "prefecture,reason")


def systems(session: Session, by: str) -> dict:
    """特定移行支援システム: deferred systems and the bodies that have them, by reason, prefecture or kind.
    Counts of fewer than k bodies are suppressed, with complements so no total gives them away."""
    from sqlalchemy import select

    from pmo.models import Body, System

    if by not in SYSTEM_BY:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(SYSTEM_BY)} のいずれかです（{by!r}）。", input=by)
    k = get_settings().suppression_k
    rows = session.execute(
        select(System.body_id, System.deferral_reason, Body.prefecture_code, Body.kind)
        .join(Body, Body.id == System.body_id).where(System.deferred.is_(True))
    ).all()
    dims = {"reason": 1, "prefecture": 2, "kind": 3}
    keys = [d for d in by.split(",") if d in dims]

    def tally(fields: list[str]) -> dict[tuple, tuple[int, set]]:
        out: dict[tuple, tuple[int, set]] = {}
        for row in rows:
            key = tuple(row[dims[f]] for f in fields)
            n, bodies = out.get(key, (0, set()))
            bodies.add(row[0])
            out[key] = (n + 1, bodies)
        return out

    groups = tally(keys)
    if keys == ["prefecture", "reason"]:
        plan = _plan({key: len(b) for key, (_, b) in groups.items()}, k)
        marks = {key: plan.atoms.get(key) for key in groups}
    elif keys:
        ordered = sorted(groups)
        marks = dict(zip(ordered, line_pattern([len(groups[g][1]) for g in ordered], k), strict=True))
    else:
        marks = {(): None}
        groups = {(): (len(rows), {r[0] for r in rows})}
    cells = []
    for key in sorted(groups, key=lambda g: tuple(str(x) for x in g)):
        n_systems, bodies = groups[key]
        mark = marks.get(key)
        cells.append({
            **dict(zip(keys, key, strict=True)), "suppressed": mark,
            "deferred_systems": None if mark else n_systems, "bodies_with_deferred": None if mark else len(bodies),
        })
    return {"by": keys, "k": k, "cells": cells}


def advisers(session: Session, by: str) -> dict:
    """Adviser requests and visits by prefecture (or nationally); counts of fewer than k bodies suppressed."""
    from sqlalchemy import func, select

    from pmo.models import AdviserRequest, AdviserVisit

    if by not in ("none", "prefecture"):
        raise InvalidInput.at(["query", "by"], f"by は none / prefecture のいずれかです（{by!r}）。", input=by)
    k = get_settings().suppression_k
    visits = dict(session.execute(
        select(AdviserVisit.request_id, func.count()).group_by(AdviserVisit.request_id)).all())
    groups: dict[str, list] = {}
    for req_id, body_id, pref in session.execute(
        select(AdviserRequest.id, AdviserRequest.body_id, AdviserRequest.prefecture_code)
        .where(AdviserRequest.state != "cancelled")
    ):
        key = pref if by == "prefecture" else ""
        n_requests, bodies, n_visits = groups.setdefault(key, [0, set(), 0])
        groups[key] = [n_requests + 1, bodies | {body_id}, n_visits + visits.get(req_id, 0)]
    keys = sorted(groups)
    marks = line_pattern([len(groups[g][1]) for g in keys], k) if by == "prefecture" else [
        PRIMARY if 0 < len(groups[g][1]) < k else None for g in keys]
    cells = []
    for key, mark in zip(keys, marks, strict=True):
        n_requests, bodies, n_visits = groups[key]
        figures = {"requests": n_requests, "bodies": len(bodies), "visits": n_visits}
        cells.append({**({"prefecture": key} if by == "prefecture" else {}), "suppressed": mark,
                      **({f: None for f in figures} if mark else figures)})
    return {"by": by, "k": k, "cells": cells}
