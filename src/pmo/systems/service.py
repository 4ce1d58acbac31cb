"""The systems register: one current record per body × operation, every earlier state kept."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo import audit, messages, periods
from pmo.access import ensure_owner, ensure_readable
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import InvalidInput
from pmo.http.conditional import IfMatch
from pmo.models import Body, Operation, System, SystemVersion
from pmo.reports.grid import load_catalog
from pmo.systems.schemas import REASON_LABELS, SystemDetail, SystemIn, SystemOut

FIELDS = ("vendor", "planned_go_live", "deferred", "deferral_reason", "deferral_target", "note")


def etag_of(version: int) -> str:
    """The ETag of a system record's version (0: no record yet)."""
    return f'"v{version}"'


def _out(op_code: str, row: System | SystemVersion | None) -> SystemOut:
    if row is None:
        return SystemOut(operation=op_code, registered=False)
    return SystemOut(
        operation=op_code,
        registered=True,
        vendor=row.vendor,
        planned_go_live=periods.fmt(row.planned_go_live),
        deferred=row.deferred,
        deferral_reason=row.deferral_reason,
        deferral_reason_label=REASON_LABELS.get(row.deferral_reason or ""),
        deferral_target=periods.fmt(row.deferral_target),
        note=row.note,
        version=row.version,
        updated_at=getattr(row, "updated_at", None) or getattr(row, "changed_at", None),
        updated_by=getattr(row, "updated_by", None) or getattr(row, "changed_by", None),
    )


def _operation(session: Session, body: Body, code: str) -> Operation:
    catalog = load_catalog(session)
    op = catalog.op_by_code.get(code)
    if op is None:
        raise InvalidInput.at(["path", "operation"], messages.unknown_operation(code), input=code)
    if op not in catalog.operations_for(body):
        raise InvalidInput.at(["path", "operation"], f"{op.name}は{body.name}の対象業務ではありません。", input=code)
    return op


def list_systems(session: Session, principal: Principal, body: Body) -> list[SystemOut]:
    """Every operation the body runs, with its system record (or an unregistered placeholder)."""
    ensure_readable(principal, body)
    rows = {s.operation_id: s for s in session.scalars(select(System).where(System.body_id == body.id))}
    return [_out(op.code, rows.get(op.id)) for op in load_catalog(session).operations_for(body)]


def get_system(session: Session, principal: Principal, body: Body, operation: str) -> SystemDetail:
    """One system record with its history, newest first."""
    ensure_readable(principal, body)
    op = _operation(session, body, operation)
    current = session.get(System, (body.id, op.id))
    history = session.scalars(
        select(SystemVersion)
        .where(SystemVersion.body_id == body.id, SystemVersion.operation_id == op.id)
        .order_by(SystemVersion.version.desc())
    )
    return SystemDetail(**_out(op.code, current).model_dump(), history=[_out(op.code, v) for v in history])


def put_system(
    session: Session, principal: Principal, body: Body, operation: str, data: SystemIn, if_match: IfMatch | None
) -> SystemDetail:
    """Replace the body's record for an operation; the previous state stays in the history."""
    ensure_owner(principal, body)
    op = _operation(session, body, operation)
    session.execute(select(Body.id).where(Body.id == body.id).with_for_update())
    current = session.get(System, (body.id, op.id))
    if if_match is not None:
        expected = etag_of(current.version if current else 0)
        message = f"この記録は取得後に更新されているか、まだありません（現在の ETag {expected}）。"
        if_match.check(expected, exists=current is not None, message=message)
    values = {
        "vendor": data.vendor or None,
        "planned_go_live": periods.parse(data.planned_go_live) if data.planned_go_live else None,
        "deferred": data.deferred,
        "deferral_reason": data.deferral_reason,
        "deferral_target": periods.parse(data.deferral_target) if data.deferral_target else None,
        "note": data.note or None,
    }
    now = utcnow()
    version = (current.version if current else 0) + 1
    if current is None:
        current = System(body_id=body.id, operation_id=op.id)
        session.add(current)
    for name, value in values.items():
        setattr(current, name, value)
    current.version, current.updated_at, current.updated_by = version, now, principal.name
    session.add(
        SystemVersion(
            body_id=body.id, operation_id=op.id, version=version, changed_at=now, changed_by=principal.name, **values
        )
    )
    audit.record(
        session,
        principal,
        "system.put",
        f"body:{body.code}/operation:{op.code}",
        {"version": version, "deferred": data.deferred},
    )
    session.flush()
    return get_system(session, principal, body, operation)


def deferred_counts(session: Session, body_ids: list[int]) -> dict[int, int]:
    """How many 特定移行支援システム each body has."""
    rows = session.execute(
        select(System.body_id, func.count())
        .where(System.body_id.in_(body_ids), System.deferred.is_(True))
        .group_by(System.body_id)
    )
    return dict(rows.all())
