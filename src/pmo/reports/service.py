"""Monthly reports: submit (validated, idempotent, guarded), read as of any period, history, progress."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from pmo import audit, messages, periods
from pmo.access import ensure_owner, ensure_readable
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Conflict, InvalidInput
from pmo.http.conditional import IfMatch
from pmo.models import Body, IdempotencyKey, ReportRevision
from pmo.reports.cellgrid import CellGrid, Changes
from pmo.reports.grid import (
    DONE,
    IN_PROGRESS,
    N_STEPS,
    NOT_APPLICABLE,
    NOT_STARTED,
    STATUS_CODES,
    STATUS_NAMES,
    Catalog,
    Position,
    Value,
    completed_through,
    first_out_of_order,
    grid_as_of,
    grid_of_summary,
    grid_position,
    grid_template,
    key_at,
    load_catalog,
    out_of_order_steps,
)
from pmo.reports.history import cells_as_of, packed_changes_up_to, standing
from pmo.reports.schemas import (
    CellChange,
    CellIn,
    CellOut,
    OperationProgress,
    PeriodReports,
    ProgressOut,
    ReportIn,
    ReportWarning,
    RevisionDetail,
    RevisionSummary,
    SubmitOut,
)
from pmo.reports.writer import NewRevision, rebuild_after_correction, write_revisions


def parse_period(text: str, *, loc: list | None = None, now: datetime | None = None) -> int:
    """A reportable period: well-formed, not before FY2021 and not in the future."""
    loc = loc or ["path", "period"]
    period = periods.parse(text)
    if period is None:
        raise InvalidInput.at(loc, f"報告月は YYYY-MM 形式で指定してください（{text!r}）。", input=text)
    if period < periods.FIRST_PERIOD:
        raise InvalidInput.at(loc, f"報告月は {periods.fmt(periods.FIRST_PERIOD)} 以降です。", input=text)
    if period > periods.current(now):
        raise InvalidInput.at(loc, f"未来の月（{text}）の報告はできません。", input=text)
    return period


def _cell_out(catalog: Catalog, position: Position, value: Value, updated: int | None) -> CellOut:
    status, p_start, p_end, a_end, note = value
    op_id, step_id = key_at(position)
    return CellOut(
        operation=catalog.op_by_id[op_id].code,
        step=catalog.step_by_id[step_id].code,
        status=STATUS_NAMES[status],
        planned_start=periods.fmt(p_start),
        planned_end=periods.fmt(p_end),
        actual_end=periods.fmt(a_end),
        note=note,
        updated_period=periods.fmt(updated),
    )


def _month(text: str | None) -> int | None:
    return periods.parse(text) if text else None


def _merge(old: Value, cell: CellIn) -> Value:
    """The cell's new value: fields the client sent replace, omitted ones keep their last value."""
    status = STATUS_CODES[cell["status"]]
    p_start = _month(cell["planned_start"]) if "planned_start" in cell else old[1]
    p_end = _month(cell["planned_end"]) if "planned_end" in cell else old[2]
    # an end month stops applying once a step is no longer done
    a_end = _month(cell["actual_end"]) if "actual_end" in cell else old[3] if status == DONE else None
    note = (cell["note"] or None) if "note" in cell else old[4]
    return (status, p_start, p_end, a_end, note)


def _cell_errors(
    catalog: Catalog, body: Body, period: int, index: int, cell: CellIn, first: dict[Position, int]
) -> list[dict]:
    """Every problem of one cell: unknown or not applicable codes, a duplicate, a misplaced actual end."""
    loc = ["body", "cells", index]
    errors = []
    op = catalog.op_by_code.get(cell["operation"])
    step = catalog.step_by_code.get(cell["step"])
    actual_end = cell.get("actual_end")
    if op is None:
        errors.append(
            {
                "loc": [*loc, "operation"],
                "msg": messages.unknown_operation(cell["operation"]),
            }
        )
    elif op.id not in catalog.applicable[body.kind == "prefecture"]:
        errors.append(
            {
                "loc": [*loc, "operation"],
                "msg": f"{op.name}は{body.name}の報告対象業務ではありません（都道府県は生活保護・児童扶養手当のみ）。",
            }
        )
    if step is None:
        errors.append({"loc": [*loc, "step"], "msg": f"ステップコード {cell['step']!r} はありません（S01〜S40）。"})
    if op is None or step is None:
        return errors
    earlier = first.get(grid_position((op.id, step.id)), index)
    if earlier != index:
        return [
            *errors,
            {"loc": [*loc], "msg": f"{cell['operation']}/{cell['step']} が {earlier + 1} 番目のセルと重複しています。"},
        ]
    if actual_end and periods.parse_valid(actual_end) > period:
        errors.append(
            {"loc": [*loc, "actual_end"], "msg": f"完了月 {actual_end} が報告月 {periods.fmt(period)} より後です。"}
        )
    if actual_end and cell["status"] != "done":
        errors.append({"loc": [*loc, "actual_end"], "msg": "完了月は状況が「完了済み」のステップにだけ指定できます。"})
    return errors


@dataclass
class _Resolved:
    """A report's cells with their grid positions (and, for the usual status-only cells, their status codes)."""

    positions: list[Position]
    cells: list[CellIn]
    statuses: list[int]
    status_only: bool  # every cell names its operation, step and status and nothing else


def _resolve_cells(catalog: Catalog, body: Body, period: int, cells: list[CellIn]) -> _Resolved:
    """Map each cell to its position, collecting every problem (unknown, not applicable, duplicate) before failing."""
    resolved, problems = _resolved_and_problems(catalog, body, period, cells)
    if problems:
        raise InvalidInput(f"報告に {len(problems)} 件の誤りがあります。何も登録していません。", detail=problems)
    return resolved


def cell_problems(catalog: Catalog, body: Body, period: int, cells: list[CellIn]) -> list[dict]:
    """Every problem of the cells against the catalog and the body (unknown or not applicable codes,
    duplicates, misplaced actual ends), located at body.cells[i] — without storing anything."""
    return _resolved_and_problems(catalog, body, period, cells)[1]


def _resolved_and_problems(
    catalog: Catalog, body: Body, period: int, cells: list[CellIn]
) -> tuple[_Resolved, list[dict]]:
    # one pass of dictionary lookups a cell: a full grid is 800 of them
    first_position, step_offsets = catalog.first_position[body.kind == "prefecture"], catalog.step_offsets
    first: dict[Position, int] = {}
    resolved = _Resolved([], [], [], True)
    bad = []
    for i, cell in enumerate(cells):
        base, offset = first_position.get(cell["operation"]), step_offsets.get(cell["step"])
        if base is None or offset is None:
            bad.append(i)
            continue
        position = base + offset
        if first.setdefault(position, i) != i:
            bad.append(i)
        elif len(cell) != 3:
            resolved.status_only = False
            actual_end = cell.get("actual_end")
            if actual_end is not None and (cell["status"] != "done" or periods.parse_valid(actual_end) > period):
                bad.append(i)
        resolved.positions.append(position)
        resolved.cells.append(cell)
        resolved.statuses.append(STATUS_CODES[cell["status"]])
    return resolved, [e for i in bad for e in _cell_errors(catalog, body, period, i, cells[i], first)]


def _changes(resolved: _Resolved, cells: CellGrid) -> Changes:
    """The cells the report changes, with their new values; 422 when a merged value is inconsistent."""
    if resolved.status_only:
        return cells.status_changes(resolved.positions, resolved.statuses)
    changes: dict[Position, Value] = {}
    errors: list[dict] = []
    for index, (p, cell) in enumerate(zip(resolved.positions, resolved.cells, strict=True)):
        old = cells.value(p)
        new = _merge(old, cell)
        if new[1] is not None and new[2] is not None and new[2] < new[1]:
            errors.append(
                {
                    "loc": ["body", "cells", index, "planned_end"],
                    "msg": f"完了予定月 {periods.fmt(new[2])} が着手予定月 {periods.fmt(new[1])} より前です。",
                }
            )
        if new != old:
            changes[p] = new
    if errors:
        raise InvalidInput(f"報告に {len(errors)} 件の誤りがあります。何も登録していません。", detail=errors)
    return Changes.of(changes)


def _warnings(catalog: Catalog, grid: bytes, changes: Changes) -> list[ReportWarning]:
    """One out-of-order warning per changed operation with a done step after a not-started one; grid is
    the raw status grid before the changes."""
    after = bytearray(grid)
    changes.set_statuses(after)
    changed_ops = changes.operations(N_STEPS)
    warnings = []
    for op in catalog.operations:
        if op.id not in changed_ops:
            continue
        start = (op.id - 1) * N_STEPS
        found = first_out_of_order(bytes(catalog.in_step_order(after[start : start + N_STEPS])))
        if found is not None:
            done_code, earlier_code = catalog.steps[found[0]].code, catalog.steps[found[1]].code
            warnings.append(
                ReportWarning(
                    code="out_of_order",
                    operation=op.code,
                    step=done_code,
                    msg=f"{op.name}: {done_code} が完了済みですが、"
                    f"それより前の {earlier_code} が未着手です（登録はしました）。",
                )
            )
    return warnings


def _request_hash(period: int, report: ReportIn, source: str) -> str:
    payload = json.dumps([period, source, report.model_dump(exclude_unset=True)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


_LOCK_BODY = select(Body.id).where(Body.id == bindparam("body_id")).with_for_update()
_PERIOD_REVISIONS = (
    select(ReportRevision.revision, ReportRevision.submitted_at, ReportRevision.submitted_by, ReportRevision.late)
    .where(ReportRevision.body_id == bindparam("body_id"), ReportRevision.period == bindparam("period"))
    .order_by(ReportRevision.revision)
)


def _lock_body(session: Session, body_id: int) -> None:
    # PostgreSQL: serialise submissions of one body; SQLite's BEGIN IMMEDIATE already serialises writers.
    # The lock is a statement of its own: what is read after it must come from a snapshot taken once the
    # lock is granted (in READ COMMITTED a statement that waited still sees its own older snapshot).
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_LOCK_BODY, {"body_id": body_id})


def submit_report(
    session: Session,
    principal: Principal,
    body: Body,
    period_text: str,
    report: ReportIn,
    *,
    source: str = "api",
    idempotency_key: str | None = None,
    if_match: IfMatch | None = None,
) -> SubmitOut:
    """Store a report as the period's next revision (only changed cells are written); all or nothing."""
    ensure_owner(principal, body)
    period = parse_period(period_text)
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
        raise InvalidInput.at(["header", "Idempotency-Key"], "Idempotency-Key は1〜200文字です。")
    _lock_body(session, body.id)
    now_standing = standing(session, body.id, period)
    request_hash = _request_hash(period, report, source) if idempotency_key else ""
    if idempotency_key:
        seen = session.get(IdempotencyKey, (body.id, idempotency_key))
        if seen is not None:
            if seen.request_hash != request_hash:
                raise Conflict("この Idempotency-Key は別の内容の報告に使われています。新しいキーで送信してください。")
            return SubmitOut.model_validate({**seen.response, "etag": now_standing.etag})
    if if_match is not None:
        if_match.check(
            now_standing.etag,
            exists=now_standing.last_revision_id is not None,
            message=f"この報告は取得後に更新されているか、まだありません（現在の ETag {now_standing.etag}）。"
            "最新の内容を取得してから再送してください。",
        )

    catalog = load_catalog(session)
    template = grid_template(catalog, body)
    resolved = _resolve_cells(catalog, body, period, report.cells)
    correction = now_standing.newest is not None and period < now_standing.newest
    cells = cells_as_of(session, body.id, template, period, now_standing.newest) if resolved.cells else None
    changes = _changes(resolved, cells) if cells is not None else Changes.of({})  # cells is read when resolved
    base_grid = bytes(cells.statuses) if cells is not None else grid_of_summary(now_standing.summary, template)
    warnings = _warnings(catalog, base_grid, changes) if changes else []
    now = utcnow()
    due = periods.due_at(period)
    new = NewRevision(
        body_id=body.id,
        period=period,
        revision=now_standing.revisions + 1,
        submitted_at=now,
        account_id=principal.account_id,
        submitted_by=principal.name,
        late=now > due,
        source=source,
        changes=changes,
    )
    [revision_id] = write_revisions(session, body.id, [new], base_grid=base_grid, cells=None if correction else cells)
    if correction and changes:
        rebuild_after_correction(session, body.id, period, template)
    out = SubmitOut(
        body=body.code,
        period=periods.fmt(period),
        revision=new.revision,
        revision_id=revision_id,
        submitted_at=now,
        submitted_by=principal.name,
        late=new.late,
        due_at=due,
        changed=len(changes),
        unchanged=len(resolved.cells) - len(changes),
        warnings=warnings,
        etag=f'"r{revision_id}"',
    )
    if idempotency_key:
        session.add(
            IdempotencyKey(
                body_id=body.id,
                key=idempotency_key,
                request_hash=request_hash,
                revision_id=revision_id,
                response=out.model_dump(mode="json"),
                created_at=now,
            )
        )
    audit.record(
        session,
        principal,
        "report.submit",
        f"body:{body.code}/period:{periods.fmt(period)}",
        {"revision": new.revision, "changed": len(changes), "source": source},
    )
    session.flush()
    return out


def get_grid(session: Session, principal: Principal, body: Body, period_text: str) -> dict:
    """The body's every applicable cell as of period, with the period's latest revision (GridOut's shape;
    plain dicts because a grid is 800 cells and is read often)."""
    ensure_readable(principal, body)
    period = parse_period(period_text)
    catalog = load_catalog(session)
    seen_from = standing(session, body.id, period)
    cells = cells_as_of(session, body.id, grid_template(catalog, body), period, seen_from.newest)
    revisions = (
        session.connection().execute(_PERIOD_REVISIONS, {"body_id": body.id, "period": period}).all()
        if seen_from.revisions
        else []
    )
    last = revisions[-1] if revisions else None
    return {
        "body": body.code,
        "body_name": body.name,
        "period": periods.fmt(period),
        "reported": bool(revisions),
        "revision": last.revision if last else None,
        "submitted_at": last.submitted_at.isoformat().replace("+00:00", "Z") if last else None,
        "submitted_by": last.submitted_by if last else None,
        "late": revisions[0].late if revisions else None,
        "due_at": periods.due_at(period).isoformat(),
        "etag": seen_from.etag,
        "cells": _cell_dicts(catalog, body, cells),
    }


def _cell_dicts(catalog: Catalog, body: Body, cells: CellGrid) -> list[dict]:
    fmt = periods.fmt
    st, ps, pe, ae, updated, notes = (
        cells.statuses,
        cells.planned_start,
        cells.planned_end,
        cells.actual_end,
        cells.updated,
        cells.notes,
    )
    return [
        {
            "operation": op_code,
            "step": step_code,
            "status": STATUS_NAMES[st[p]],
            "planned_start": fmt(ps[p] or None),
            "planned_end": fmt(pe[p] or None),
            "actual_end": fmt(ae[p] or None),
            "note": notes.get(p),
            "updated_period": fmt(updated[p] or None),
        }
        for p, op_code, step_code in catalog.layout(body.kind == "prefecture")
    ]


def _summary(r: ReportRevision) -> RevisionSummary:
    return RevisionSummary(
        revision=r.revision,
        revision_id=r.id,
        submitted_at=r.submitted_at,
        submitted_by=r.submitted_by,
        late=r.late,
        changed=r.n_changed,
        source=r.source,
    )


def list_reports(session: Session, principal: Principal, body: Body) -> list[PeriodReports]:
    """Every reported period of the body, newest first, with its revisions."""
    ensure_readable(principal, body)
    by_period: dict[int, list[ReportRevision]] = {}
    for r in session.scalars(
        select(ReportRevision)
        .where(ReportRevision.body_id == body.id)
        .order_by(ReportRevision.period.desc(), ReportRevision.revision)
    ):
        by_period.setdefault(r.period, []).append(r)
    return [
        PeriodReports(period=periods.fmt(p), late=revs[0].late, revisions=[_summary(r) for r in revs])
        for p, revs in by_period.items()
    ]


def _cell_change(catalog: Catalog, cells: CellGrid, p: Position, new: Value, period: int) -> CellChange:
    before = _cell_out(catalog, p, cells.value(p), cells.updated_period(p))
    return CellChange(
        operation=before.operation, step=before.step, before=before, after=_cell_out(catalog, p, new, period)
    )


def list_revisions(session: Session, principal: Principal, body: Body, period_text: str) -> list[RevisionDetail]:
    """Each revision of the period with every cell it changed, from what to what."""
    ensure_readable(principal, body)
    period = parse_period(period_text)
    catalog = load_catalog(session)
    revisions = list(
        session.scalars(
            select(ReportRevision)
            .where(ReportRevision.body_id == body.id, ReportRevision.period == period)
            .order_by(ReportRevision.revision)
        )
    )
    if not revisions:
        return []
    cells = CellGrid.blank(grid_template(catalog, body))
    changes_of: dict[int, list[CellChange]] = {}
    for row_period, revision_id, blob in packed_changes_up_to(session, body.id, period):
        changes = Changes.unpack(blob)
        if row_period == period:
            values = changes.values()
            changes_of[revision_id] = [
                _cell_change(catalog, cells, p, values[p], period) for p in sorted(values, key=catalog.sort_key)
            ]
        cells.apply(changes, row_period)
    return [RevisionDetail(**_summary(r).model_dump(), changes=changes_of.get(r.id, [])) for r in revisions]


def operation_progress(op_code: str, statuses: list[int], step_codes: list[str]) -> OperationProgress:
    """MIC's rates for one operation of one body from its 40 step statuses."""
    counts = {s: statuses.count(s) for s in (DONE, IN_PROGRESS, NOT_STARTED, NOT_APPLICABLE)}
    through = completed_through(statuses)
    return OperationProgress(
        operation=op_code,
        done=counts[DONE],
        in_progress=counts[IN_PROGRESS],
        not_started=counts[NOT_STARTED],
        not_applicable=counts[NOT_APPLICABLE],
        completion_rate=(counts[DONE] + counts[NOT_APPLICABLE]) / N_STEPS,
        in_progress_rate=counts[IN_PROGRESS] / N_STEPS,
        not_started_rate=counts[NOT_STARTED] / N_STEPS,
        completed_through=step_codes[through] if through is not None else None,
        out_of_order=len(out_of_order_steps(statuses)),
    )


def get_progress(session: Session, principal: Principal, body: Body, period_text: str | None) -> ProgressOut:
    """Per-operation and overall rates of the body as of period (default: the current period)."""
    ensure_readable(principal, body)
    period = parse_period(period_text, loc=["query", "period"]) if period_text else periods.current()
    catalog = load_catalog(session)
    grid = grid_as_of(session, catalog, body, period)
    step_codes = [s.code for s in catalog.steps]
    ops = []
    for op in catalog.operations_for(body):
        statuses = [grid[grid_position((op.id, s.id))] for s in catalog.steps]
        ops.append(operation_progress(op.code, statuses, step_codes))
    n = len(ops) or 1
    reported = session.scalar(
        select(func.count()).where(ReportRevision.body_id == body.id, ReportRevision.period == period)
    )
    return ProgressOut(
        body=body.code,
        period=periods.fmt(period),
        reported=bool(reported),
        completion_rate=round(sum(o.completion_rate for o in ops) / n, 6),
        in_progress_rate=round(sum(o.in_progress_rate for o in ops) / n, 6),
        not_started_rate=round(sum(o.not_started_rate for o in ops) / n, 6),
        operations=ops,
    )
