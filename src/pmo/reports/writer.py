"""Writing revisions: the one path by which report data enters the database (API, uploads, demo)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pmo.models import BodyPeriod, CellVersion, ReportRevision
from pmo.reports.grid import Key, Value, compress_grid, encode_grid, grid_position

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


_PG_TYPES = ("int", "int", "int", "int", "int", "smallint", "int", "int", "int", "text")


def _bulk(conn: Connection, statement: str, rows: list[tuple]) -> None:
    """Insert cell rows in the fastest way each driver offers: the hot path (up to 800 rows a report,
    millions in the demo), where building SQLAlchemy parameter dicts would cost more than the database.
    PostgreSQL gets the columns as arrays in one round trip (unnest); SQLite a driver executemany."""
    columns = ", ".join(_CELL_COLUMNS)
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{t}[]" for t in _PG_TYPES)
        sql = statement.format(columns=columns, rows=f"SELECT * FROM unnest({arrays})")
        conn.exec_driver_sql(sql, tuple(list(column) for column in zip(*rows, strict=True)))
    else:
        sql = statement.format(columns=columns, rows=f"VALUES ({', '.join('?' * len(_CELL_COLUMNS))})")
        conn.exec_driver_sql(sql, rows)


def write_revisions(session: Session, body_id: int, revisions: list[NewRevision], *, base_grid: bytes) -> list[int]:
    """Insert one body's revisions (in order), their cell versions, the newest cells and the period
    summaries; base_grid is the raw status grid as of the first revision's period before it.
    Returns the revision ids."""
    if not revisions:
        return []
    conn = session.connection()
    table = ReportRevision.__table__
    ids = list(conn.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [
            dict(
                body_id=body_id, period=r.period, revision=r.revision, submitted_at=r.submitted_at,
                account_id=r.account_id, submitted_by=r.submitted_by, late=r.late, n_changed=len(r.changes),
                source=r.source,
            )
            for r in revisions
        ],
    ))
    versions: list[tuple] = []
    newest: dict[Key, tuple] = {}
    statuses = bytearray(base_grid)
    summaries: dict[int, list] = {}
    for rev, rev_id in zip(revisions, ids, strict=True):
        for key, value in rev.changes.items():
            row = (body_id, *key, rev.period, rev_id, *value)
            versions.append(row)
            statuses[grid_position(key)] = value[0]
            if key not in rev.superseded:
                newest[key] = row
        grid = compress_grid(statuses)
        if rev.period in summaries:
            summary = summaries[rev.period]
            summary[2] += 1
            summary[5:] = [rev_id, grid]
        else:
            summaries[rev.period] = [body_id, rev.period, 1, rev.submitted_at, rev.late, rev_id, grid]
    if versions:
        _bulk(conn, "INSERT INTO cell_versions ({columns}) {rows}", versions)
    if newest:
        _bulk(conn, "INSERT INTO cells ({columns}) {rows} "
                    f"ON CONFLICT (body_id, operation_id, step_id) DO UPDATE SET {_UPDATED}", list(newest.values()))
    upsert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(BodyPeriod.__table__)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["body_id", "period"],
            set_={
                "revisions": BodyPeriod.__table__.c.revisions + upsert.excluded.revisions,
                "last_revision_id": upsert.excluded.last_revision_id,
                "statuses": upsert.excluded.statuses,
            },
        ),
        [
            dict(body_id=body_id, period=p, revisions=n, first_submitted_at=at, late=late, last_revision_id=rev_id, statuses=grid)
            for _, p, n, at, late, rev_id, grid in summaries.values()
        ],
    )
    return ids


def rebuild_later_grids(session: Session, body_id: int, period: int, template: bytes) -> None:
    """After a correction of period, recompute the body's status grids of every later period it reported."""
    later = list(session.scalars(
        select(BodyPeriod.period).where(BodyPeriod.body_id == body_id, BodyPeriod.period > period).order_by(BodyPeriod.period)
    ))
    if not later:
        return
    versions = session.execute(
        select(CellVersion.operation_id, CellVersion.step_id, CellVersion.period, CellVersion.status)
        .where(CellVersion.body_id == body_id).order_by(CellVersion.period, CellVersion.revision_id)
    ).all()
    statuses: dict[Key, int] = {}
    i = 0
    for target in later:
        while i < len(versions) and versions[i].period <= target:
            statuses[(versions[i].operation_id, versions[i].step_id)] = versions[i].status
            i += 1
        session.execute(
            BodyPeriod.__table__.update()
            .where(BodyPeriod.body_id == body_id, BodyPeriod.period == target)
            .values(statuses=encode_grid(template, statuses))
        )
