"""Writing revisions: the one path by which report data enters the database (API, uploads, demo)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pmo.models import Cell, CellVersion, ReportRevision
from pmo.reports.grid import Key, Value


@dataclass
class NewRevision:
    """One submission to store: its changed cells, and which of them become the body's newest state."""

    body_id: int
    period: int
    revision: int
    submitted_at: datetime
    account_id: int | None
    submitted_by: str
    late: bool
    source: str
    changes: dict[Key, Value]
    superseded: frozenset[Key] = frozenset()  # cells that a later period already sets


def write_revisions(session: Session, revisions: list[NewRevision]) -> list[int]:
    """Insert revisions (in order), their cell versions, and the newest cells; returns the revision ids."""
    if not revisions:
        return []
    ids = list(
        session.scalars(
            insert(ReportRevision).returning(ReportRevision.id, sort_by_parameter_order=True),
            [
                dict(
                    body_id=r.body_id, period=r.period, revision=r.revision, submitted_at=r.submitted_at,
                    account_id=r.account_id, submitted_by=r.submitted_by, late=r.late, n_changed=len(r.changes),
                    source=r.source,
                )
                for r in revisions
            ],
        )
    )
    versions = []
    newest: dict[tuple[int, int, int], dict] = {}
    for rev, rev_id in zip(revisions, ids, strict=True):
        for (op_id, step_id), (status, p_start, p_end, a_end, note) in rev.changes.items():
            row = dict(
                body_id=rev.body_id, operation_id=op_id, step_id=step_id, period=rev.period, revision_id=rev_id,
                status=status, planned_start=p_start, planned_end=p_end, actual_end=a_end, note=note,
            )
            versions.append(row)
            if (op_id, step_id) not in rev.superseded:
                newest[(rev.body_id, op_id, step_id)] = row
    if versions:
        session.execute(insert(CellVersion), versions)
    if newest:
        _upsert_cells(session, list(newest.values()))
    return ids


def _upsert_cells(session: Session, rows: list[dict]) -> None:
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Cell)
    updated = {c: stmt.excluded[c] for c in ("period", "revision_id", "status", "planned_start", "planned_end", "actual_end", "note")}
    session.execute(stmt.on_conflict_do_update(index_elements=["body_id", "operation_id", "step_id"], set_=updated), rows)
