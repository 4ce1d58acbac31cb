"""Writing revisions: the one path by which report data enters the database (API, uploads, demo)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pmo.models import ReportRevision
from pmo.reports.grid import Key, Value

_CELL_COLUMNS = ("body_id", "operation_id", "step_id", "period", "revision_id", "status", "planned_start",
                 "planned_end", "actual_end", "note")
_UPDATED = ", ".join(f"{c} = excluded.{c}" for c in _CELL_COLUMNS[3:])


@dataclass
class NewRevision:
    """One submission to store: its changed cells, and which of them a later period already sets."""

    body_id: int
    period: int
    revision: int
    submitted_at: datetime
    account_id: int | None
    submitted_by: str
    late: bool
    source: str
    changes: dict[Key, Value]
    superseded: frozenset[Key] = frozenset()


def _sql(paramstyle: str, statement: str) -> str:
    marker = "?" if paramstyle == "qmark" else "%s"
    return statement.replace("{params}", ", ".join([marker] * len(_CELL_COLUMNS)))


def write_revisions(session: Session, revisions: list[NewRevision]) -> list[int]:
    """Insert revisions (in order), their cell versions, and the newest cells; returns the revision ids."""
    if not revisions:
        return []
    conn = session.connection()
    table = ReportRevision.__table__
    ids = list(conn.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [
            dict(
                body_id=r.body_id, period=r.period, revision=r.revision, submitted_at=r.submitted_at,
                account_id=r.account_id, submitted_by=r.submitted_by, late=r.late, n_changed=len(r.changes),
                source=r.source,
            )
            for r in revisions
        ],
    ))
    versions: list[tuple] = []
    newest: dict[tuple[int, int, int], tuple] = {}
    for rev, rev_id in zip(revisions, ids, strict=True):
        for (op_id, step_id), value in rev.changes.items():
            row = (rev.body_id, op_id, step_id, rev.period, rev_id, *value)
            versions.append(row)
            if (op_id, step_id) not in rev.superseded:
                newest[(rev.body_id, op_id, step_id)] = row
    # Plain driver executemany: these are the hot rows (up to 800 a report, millions in the demo), and
    # building SQLAlchemy parameter dicts for each costs more than the database does.
    columns = ", ".join(_CELL_COLUMNS)
    style = conn.dialect.paramstyle
    if versions:
        conn.exec_driver_sql(_sql(style, f"INSERT INTO cell_versions ({columns}) VALUES ({{params}})"), versions)
    if newest:
        conn.exec_driver_sql(
            _sql(style, f"INSERT INTO cells ({columns}) VALUES ({{params}}) "
                        f"ON CONFLICT (body_id, operation_id, step_id) DO UPDATE SET {_UPDATED}"),
            list(newest.values()),
        )
    return ids
