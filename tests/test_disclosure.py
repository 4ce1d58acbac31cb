"""The adversary of issue #19, run against what the statistics endpoints serve.

It holds every table served for a period (every group the API offers, through every filter it
accepts), the public directory, and — as an insider — a prefecture's own rows or one municipality's.
It models each (operation, step) slice and the reporting flags as an integer programme: bodies that no
published group tells apart form a class; a class's status counts are integers bounded by its size and
tied to every published figure. A class of fewer than k bodies whose count is pinned to one value
(scipy's MILP, minimised and maximised) singles its bodies out, unless a published group of at least k
bodies shares that status in full (group disclosure). Over time, it reads everything before and after
one submission and narrows the changed body down to the groups that moved and none that did not.

On the code before issue #19 it pins prefecture bodies and lone villages and names the body behind a
change; the test stays independent of the app's grouping code, so it judges whatever the API serves."""

import random
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from pmo import periods

K = 3
LAST = periods.add_months(periods.current(), -1)
FINE = ("prefecture", "designated_city", "city", "special_ward", "town", "village")
# Every kind value any version of the API may accept, and the directory kinds it stands for.
KIND_SETS = {**{k: {k} for k in FINE}, "cities": {"designated_city", "city"}, "towns_villages": {"town", "village"}}
SLICES = (("koseki", "S05"), ("seikatsu_hogo", "S05"))  # municipalities only; prefectures too
PROGRESS_FIELDS = ("done", "in_progress", "not_started", "not_applicable")
REPORTING_FIELDS = ("on_time", "late", "missing")
FUNAHASHI = "163210"  # 舟橋村, the only village of 富山県


@dataclass(frozen=True)
class Body:
    id: int
    code: str
    prefecture: str
    kind: str


@dataclass(frozen=True)
class Figure:
    """One published cell: which bodies it covers and its counts (one per status)."""

    slice: tuple
    members: frozenset
    counts: tuple


@pytest.fixture
def nation(database_url):
    """A period in which 85 % of bodies reported, with statuses drawn at random for the audited slices;
    returns the directory, which ops each body reports, and every body's true status per slice."""
    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.models import Body as BodyRow
    from pmo.models import Operation, Step
    from pmo.reports.cellgrid import CellGrid
    from pmo.reports.grid import grid_position, grid_template, load_catalog
    from pmo.reports.writer import NewRevision, write_revisions

    rng = random.Random(19)
    truth: dict[tuple, dict[int, int]] = {s: {} for s in SLICES}
    truth["reporting"] = {}
    with session_scope() as session:
        catalog = load_catalog(session)
        ops = {o.code: o for o in session.scalars(select(Operation))}
        step_ids = {s.code: s.id for s in session.scalars(select(Step))}
        rows = list(session.scalars(select(BodyRow).order_by(BodyRow.id)))
        bodies = [Body(b.id, b.code, b.prefecture_code, b.kind) for b in rows]
        submitted = periods.due_at(LAST) - timedelta(days=3)
        for row in rows:
            reports = row.code == FUNAHASHI or rng.random() < 0.85
            changes = {}
            for op_code, step in SLICES:
                op = ops[op_code]
                if not (op.for_prefectures if row.kind == "prefecture" else op.for_municipalities):
                    continue
                status = rng.choice((1, 1, 2, 3, 4)) if reports else 3
                truth[(op_code, step)][row.id] = status
                changes[grid_position((op.id, step_ids[step]))] = (status, None, None, None, None)
            truth["reporting"][row.id] = 0 if reports else 2  # on time / missing
            if reports:
                template = grid_template(catalog, row)
                write_revisions(session, row.id, [NewRevision(
                    body_id=row.id, period=LAST, revision=1, submitted_at=min(submitted, periods.utcnow()),
                    account_id=None, submitted_by="test", late=False, source="test", changes=changes,
                )], base_grid=template, cells=CellGrid.blank(template))
        applies = {o.code: {b.id for b in rows if (o.for_prefectures if b.kind == "prefecture" else o.for_municipalities)}
                   for o in ops.values()}
    return bodies, applies, truth


def _resolve(bodies, applies, prefecture, kind, operation, n_bodies) -> frozenset:
    """The bodies a published group covers: the adversary reads the documentation, and where a
    prefecture's figures may or may not include the prefecture body, the size tells which."""
    base = [b for b in bodies if (operation is None or b.id in applies[operation])
            and (kind is None or b.kind in KIND_SETS[kind])]
    if prefecture is None:
        options = [base]
    else:
        inside = [b for b in base if b.prefecture == prefecture]
        options = [inside, [b for b in inside if b.kind != "prefecture"]]
    for option in options:
        if len(option) == n_bodies:
            return frozenset(b.id for b in option)
    raise AssertionError(f"no reading of group {prefecture}/{kind}/{operation} has {n_bodies} bodies")


def harvest(client, headers, bodies, applies) -> list[Figure]:
    """Every figure served for the audited slices and the reporting flags, through every filter."""
    figures = set()
    prefectures = sorted({b.prefecture for b in bodies})
    for operation, step in SLICES:
        for prefecture in (None, *prefectures):
            for kind in (None, *KIND_SETS):
                params = {"period": periods.fmt(LAST), "by": "operation,step", "operation": operation,
                          "prefecture": prefecture, "kind": kind}
                r = client.get("/api/v1/stats/progress", headers=headers,
                               params={k: v for k, v in params.items() if v is not None})
                if r.status_code == 422:  # a combination the API does not publish
                    continue
                assert r.status_code == 200, r.text
                for c in r.json()["cells"]:
                    if c["step"] == step and not c["suppressed"]:
                        members = _resolve(bodies, applies, prefecture, kind, operation, c["n_bodies"])
                        figures.add(Figure((operation, step), members, tuple(c[f] for f in PROGRESS_FIELDS)))
    for by in ("none", "prefecture", "kind"):
        r = client.get("/api/v1/stats/reporting", headers=headers, params={"period": periods.fmt(LAST), "by": by})
        assert r.status_code == 200, r.text
        for c in r.json()["cells"]:
            if not c["suppressed"]:
                members = _resolve(bodies, applies, c.get("prefecture"), c.get("kind"), None, c["n_bodies"])
                figures.add(Figure("reporting", members, tuple(c[f] for f in REPORTING_FIELDS)))
    return sorted(figures, key=lambda f: (str(f.slice), sorted(f.members), f.counts))


def _status_index(slice_, status: int) -> int:
    return status - 1 if slice_ != "reporting" else status


def leaks(figures: list[Figure], known: dict[tuple, dict[int, int]] | None = None) -> list[str]:
    """Classes of fewer than K unknown bodies whose count of some status only one integer table allows."""
    known = known or {}
    found = []
    for slice_ in dict.fromkeys(f.slice for f in figures):
        figs = [f for f in figures if f.slice == slice_]
        n_status = len(figs[0].counts)
        mine = known.get(slice_, {})
        unknown = sorted(set().union(*(f.members for f in figs)) - set(mine))
        signature = {b: tuple(i for i, f in enumerate(figs) if b in f.members) for b in unknown}
        classes: dict[tuple, list[int]] = {}
        for b, sig in signature.items():
            classes.setdefault(sig, []).append(b)
        small = [sig for sig, members in classes.items() if len(members) < K]
        if not small:
            continue
        order = list(classes)
        col = {(sig, s): i * n_status + s for i, sig in enumerate(order) for s in range(n_status)}
        rows, rhs = [], []
        for sig in order:  # a class's statuses add up to its size
            row = np.zeros(len(col))
            row[[col[(sig, s)] for s in range(n_status)]] = 1
            rows.append(row)
            rhs.append(len(classes[sig]))
        residual = []
        for i, f in enumerate(figs):
            counts = list(f.counts)
            for b in f.members & set(mine):
                counts[_status_index(slice_, mine[b])] -= 1
            residual.append(counts)
            for s in range(n_status):
                row = np.zeros(len(col))
                row[[col[(sig, s)] for sig in order if i in sig]] = 1
                rows.append(row)
                rhs.append(counts[s])
        a = np.array(rows)
        upper = np.array([len(classes[sig]) for sig in order for _ in range(n_status)], dtype=float)
        constraint = LinearConstraint(a, rhs, rhs)
        for sig in small:
            for s in range(n_status):
                objective = np.zeros(len(col))
                objective[col[(sig, s)]] = 1
                values = []
                for sign in (1, -1):
                    res = milp(sign * objective, constraints=constraint, integrality=np.ones(len(col)),
                               bounds=Bounds(0, upper))
                    assert res.status == 0, f"the published figures of {slice_} are inconsistent: {res.message}"
                    values.append(round(sign * res.fun))
                if values[0] != values[1]:
                    continue
                size = len(classes[sig])
                shared = any(  # group disclosure: a published group of ≥ K unknown bodies all share it
                    len(figs[i].members - set(mine)) >= K and residual[i][s] in (0, len(figs[i].members - set(mine)))
                    for i in sig)
                if not shared:
                    found.append(f"{slice_}: {size} bodies {classes[sig]} have exactly {values[0]} of status {s}")
    return found


def test_no_body_is_pinned_by_integer_bounds_for_outsiders_or_insiders(client, token_for, nation):
    bodies, applies, truth = nation
    figures = harvest(client, token_for("viewer"), bodies, applies)
    assert len(figures) > 100  # the harvest reached the tables
    assert leaks(figures) == [], "an outsider singles bodies out"
    by_prefecture: dict[str, set[int]] = {}
    for b in bodies:
        by_prefecture.setdefault(b.prefecture, set()).add(b.id)
    for prefecture, own in by_prefecture.items():  # a prefecture knows its own and its municipalities' rows
        known = {s: {b: v for b, v in values.items() if b in own} for s, values in truth.items()}
        assert leaks(figures, known) == [], f"prefecture {prefecture} as insider singles bodies out"
    atoms: dict[tuple, list[Body]] = {}
    for b in bodies:
        atoms.setdefault((b.prefecture, b.kind), []).append(b)
    for members in atoms.values():  # a municipality in each small group knows its own rows
        if len(members) <= 4 and members[0].kind != "prefecture":
            me = members[0].id
            known = {s: {me: values[me]} for s, values in truth.items() if me in values}
            assert leaks(figures, known) == [], f"municipality {members[0].code} as insider singles bodies out"


def test_a_change_is_not_localised_to_fewer_than_k_bodies(client, token_for, nation):
    bodies, applies, truth = nation
    viewer = token_for("viewer")
    before = harvest(client, viewer, bodies, applies)
    village = next(b for b in bodies if b.code == FUNAHASHI)
    old = truth[("koseki", "S05")][village.id]
    new = 2 if old != 2 else 1
    r = client.put(f"/api/v1/bodies/{FUNAHASHI}/reports/{periods.fmt(LAST)}", headers=token_for("municipality", FUNAHASHI),
                   json={"cells": [{"operation": "koseki", "step": "S05",
                                    "status": {1: "done", 2: "in_progress"}[new]}]})
    assert r.status_code == 200, r.text
    after = harvest(client, viewer, bodies, applies)
    published = lambda figs: {f.members: f.counts for f in figs if f.slice == ("koseki", "S05")}
    then, now = published(before), published(after)
    both = then.keys() & now.keys()
    moved = [g for g in both if then[g] != now[g]]
    still = [g for g in both if then[g] == now[g]]
    assert moved, "the change must show in the published figures"
    candidates = set(applies["koseki"])
    for group in moved:
        candidates &= group
    for group in still:
        candidates -= group
    assert village.id in candidates
    assert len(candidates) >= K, f"the change is localised to {len(candidates)} bodies"
