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
from typing import get_args

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from pmo import periods
from pmo.stats.schemas import SystemsBy

K = 3
LAST = periods.add_months(periods.current(), -1)
FINE = ("prefecture", "designated_city", "city", "special_ward", "town", "village")
# Every kind value any version of the API may accept, and the directory kinds it stands for.
KIND_SETS = {**{k: {k} for k in FINE}, "cities": {"designated_city", "city"}, "towns_villages": {"town", "village"}}
AUDITED_OPERATIONS = ("koseki", "seikatsu_hogo")  # municipalities only; prefectures too
PROGRESS_FIELDS = ("done", "in_progress", "not_started", "not_applicable")
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


def _write_random_period(session, rng: random.Random) -> None:
    """85 % of bodies report LAST with random statuses in every cell (the others stay not started)."""
    from sqlalchemy import select

    from pmo.models import Body as BodyRow
    from pmo.reports.cellgrid import CellGrid, Changes
    from pmo.reports.grid import grid_template, load_catalog
    from pmo.reports.writer import NewRevision, write_revisions

    catalog = load_catalog(session)
    submitted = min(periods.due_at(LAST) - timedelta(days=3), periods.utcnow())
    for row in session.scalars(select(BodyRow).order_by(BodyRow.id)):
        if row.code != FUNAHASHI and rng.random() >= 0.85:
            continue
        template = grid_template(catalog, row)
        changes = {i: (rng.choice((1, 1, 2, 3, 4)), None, None, None, None) for i, v in enumerate(template) if v}
        write_revisions(
            session,
            row.id,
            [
                NewRevision(
                    body_id=row.id,
                    period=LAST,
                    revision=1,
                    submitted_at=submitted,
                    account_id=None,
                    submitted_by="test",
                    late=False,
                    source="test",
                    changes=Changes.of(changes),
                )
            ],
            base_grid=template,
            cells=CellGrid.blank(template),
        )


def _most_mixed_step(statuses: np.ndarray, op_id: int) -> str:
    """The step of an operation whose statuses are spread most evenly (the hardest slice to protect)."""
    block = statuses[:, (op_id - 1) * 40 : op_id * 40]
    applies = block[:, 0] != 0
    spread = [np.bincount(block[applies, j], minlength=5)[1:].min() for j in range(40)]
    return f"S{int(np.argmax(spread)) + 1:02d}"


@pytest.fixture(params=["demo", "random"])
def nation(request, database_url):
    """A period of realistic demo data (its history since 2022-06 and the systems register), or one of
    random statuses; returns the directory, which bodies report each operation, the audited slices and
    every body's true value per slice (what insiders know)."""
    from sqlalchemy import make_url, select

    from pmo.db import session_scope
    from pmo.demo import review as review_demo
    from pmo.demo.reports import generate
    from pmo.models import Body as BodyRow
    from pmo.models import Operation
    from pmo.stats.matrix import load_directory, load_matrix

    if request.param == "demo" and make_url(database_url).get_backend_name() == "postgresql":
        # The audit reads the same matrices on both databases; the 54-month demo history takes minutes to
        # write on PostgreSQL, so the SQLite run audits the demo data and this run the random period.
        pytest.skip("demo data is audited in the SQLite run")
    with session_scope() as session:
        if request.param == "demo":
            generate(session, seed=2022)
            review_demo.generate(session, seed=2022)
        else:
            _write_random_period(session, random.Random(19))
    with session_scope(read_only=True) as session:
        ops = {o.code: o for o in session.scalars(select(Operation))}
        rows = list(session.scalars(select(BodyRow).order_by(BodyRow.id)))
        directory = load_directory(session)
        matrix = load_matrix(session, directory, LAST)
    bodies = [Body(b.id, b.code, b.prefecture_code, b.kind) for b in rows]
    applies = {
        o.code: {b.id for b in rows if (o.for_prefectures if b.kind == "prefecture" else o.for_municipalities)}
        for o in ops.values()
    }
    slices = tuple((code, _most_mixed_step(matrix.statuses, ops[code].id)) for code in AUDITED_OPERATIONS)
    truth: dict = {}
    for code, step in slices:
        column = (ops[code].id - 1) * 40 + int(step[1:]) - 1
        truth[(code, step)] = {b: int(matrix.statuses[directory.row_of[b], column]) for b in applies[code]}
    truth["reporting"] = {
        b.id: 0 if matrix.on_time[directory.row_of[b.id]] else 1 if matrix.reported[directory.row_of[b.id]] else 2
        for b in bodies
    }
    return bodies, applies, slices, truth


def _resolve(bodies, applies, prefecture, kind, operation, n_bodies) -> frozenset:
    """The bodies a published group covers: the adversary reads the documentation, and where a
    prefecture's figures may or may not include the prefecture body, the size tells which."""
    base = [
        b
        for b in bodies
        if (operation is None or b.id in applies[operation]) and (kind is None or b.kind in KIND_SETS[kind])
    ]
    if prefecture is None:
        options = [base]
    else:
        inside = [b for b in base if b.prefecture == prefecture]
        options = [inside, [b for b in inside if b.kind != "prefecture"]]
    for option in options:
        if len(option) == n_bodies:
            return frozenset(b.id for b in option)
    if n_bodies is None:  # a table without sizes: read it as documented then (a prefecture: all its bodies)
        return frozenset(b.id for b in options[0])
    raise AssertionError(f"no reading of group {prefecture}/{kind}/{operation} has {n_bodies} bodies")


def harvest(client, headers, bodies, applies, slices) -> list[Figure]:
    """Every figure served for the audited slices and the reporting flags, through every filter."""
    figures = set()
    prefectures = sorted({b.prefecture for b in bodies})
    for operation, step in slices:
        for prefecture in (None, *prefectures):
            for kind in (None, *KIND_SETS):
                params = {
                    "period": periods.fmt(LAST),
                    "by": "operation,step",
                    "operation": operation,
                    "prefecture": prefecture,
                    "kind": kind,
                }
                r = client.get(
                    "/api/v1/stats/progress", headers=headers, params={k: v for k, v in params.items() if v is not None}
                )
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
                not_in = c["pending"] + c["missing"]  # one of the two is 0: which, the public due date says
                figures.add(Figure("reporting", members, (c["on_time"], c["late"], not_in)))
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
                    res = milp(
                        sign * objective, constraints=constraint, integrality=np.ones(len(col)), bounds=Bounds(0, upper)
                    )
                    assert res.status == 0, f"the published figures of {slice_} are inconsistent: {res.message}"
                    values.append(round(sign * res.fun))
                if values[0] != values[1]:
                    continue
                size = len(classes[sig])
                shared = any(  # group disclosure: a published group of ≥ K unknown bodies all share it
                    len(figs[i].members - set(mine)) >= K and residual[i][s] in (0, len(figs[i].members - set(mine)))
                    for i in sig
                )
                if not shared:
                    found.append(f"{slice_}: {size} bodies {classes[sig]} have exactly {values[0]} of status {s}")
    return found


def _register(client, headers, bodies) -> dict[tuple, tuple]:
    """Every systems-register figure: (members, reason) → (deferred systems, bodies with one)."""
    figures = {}
    for by in get_args(SystemsBy):  # every split the endpoint offers, the progress-based track included
        r = client.get("/api/v1/stats/systems", headers=headers, params={"by": by})
        assert r.status_code == 200, r.text
        for c in r.json()["cells"]:
            if not c["suppressed"]:
                members = _resolve(bodies, None, c.get("prefecture"), c.get("kind"), None, c.get("n_bodies"))
                label = c.get("reason") or next((f"{d}:{c[d]}" for d in ("target", "track") if c.get(d)), None)
                figures[(members, label)] = (c["deferred_systems"], c["bodies_with_deferred"])
    return figures


def _candidates(before: dict, after: dict, everyone: set) -> set:
    """The bodies a single change can be pinned on: in every group whose figures moved, and in no group of
    the same label (slice, or register reason) that did not move — a change there would have moved it."""
    both = before.keys() & after.keys()
    moved = [key for key in both if before[key] != after[key]]
    labels = {key[1] for key in moved}
    candidates = set(everyone)
    for members, _ in moved:
        candidates &= members
    for members, label in both - set(moved):
        if label in labels:
            candidates -= members
    return candidates


def test_no_body_is_pinned_by_integer_bounds_for_outsiders_or_insiders(client, token_for, nation):
    bodies, applies, slices, truth = nation
    figures = harvest(client, token_for("viewer"), bodies, applies, slices)
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


def test_a_report_or_register_change_is_not_localised_to_fewer_than_k_bodies(client, token_for, nation):
    bodies, applies, slices, truth = nation
    viewer, village = token_for("viewer"), next(b for b in bodies if b.code == FUNAHASHI)
    operation, step = slices[0]
    before, register_before = harvest(client, viewer, bodies, applies, slices), _register(client, viewer, bodies)
    new = 2 if truth[slices[0]][village.id] != 2 else 1
    r = client.put(
        f"/api/v1/bodies/{FUNAHASHI}/reports/{periods.fmt(LAST)}",
        headers=token_for("municipality", FUNAHASHI),
        json={"cells": [{"operation": operation, "step": step, "status": {1: "done", 2: "in_progress"}[new]}]},
    )
    assert r.status_code == 200, r.text
    own = token_for("municipality", FUNAHASHI)
    current = client.get(f"/api/v1/bodies/{FUNAHASHI}/systems/koseki", headers=own).json()
    reason = "mainframe" if current.get("deferral_reason") != "mainframe" else "vendor_resources"
    r = client.put(
        f"/api/v1/bodies/{FUNAHASHI}/systems/koseki",
        headers=own,
        json={"deferred": True, "deferral_reason": reason, "deferral_target": "2028-03"},
    )
    assert r.status_code in (200, 201), r.text
    after, register_after = harvest(client, viewer, bodies, applies, slices), _register(client, viewer, bodies)

    def published(figs):
        return {(f.members, f.slice): f.counts for f in figs if f.slice == slices[0]}

    moved = _candidates(published(before), published(after), applies[operation])
    assert village.id in moved and len(moved) >= K, f"the report is localised to {len(moved)} bodies"
    changed = _candidates(register_before, register_after, {b.id for b in bodies})
    assert village.id in changed and len(changed) >= K, f"the register change is localised to {len(changed)} bodies"
