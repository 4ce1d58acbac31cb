"""Writing revisions: the one path by which report data enters the database (API, uploads, demo)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pmo.models import BodyPeriod, CellVersion, ReportRevision
from pmo.reports.grid import Key, Value, encode_grid

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


def _sql(paramstyle: str, statement: str, n_params: int) -> str:
    marker = "?" if paramstyle == "qmark" else "%s"
    return statement.replace("{params}", ", ".join([marker] * n_params))


def write_revisions(
    session: Session, body_id: int, revisions: list[NewRevision], *, template: bytes, base: dict[Key, int]
) -> list[int]:
    """Insert one body's revisions (in order), their cell versions, the newest cells and the period
    summaries; base holds the statuses as of the first revision's period before it. Returns revision ids."""
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
    statuses = dict(base)
    summaries: dict[int, list] = {}
    for rev, rev_id in zip(revisions, ids, strict=True):
        for key, value in rev.changes.items():
            row = (body_id, *key, rev.period, rev_id, *value)
            versions.append(row)
            statuses[key] = value[0]
            if key not in rev.superseded:
                newest[key] = row
        grid = encode_grid(template, statuses)
        if rev.period in summaries:
            summary = summaries[rev.period]
            summary[2] += 1
            summary[5:] = [rev_id, grid]
        else:
            summaries[rev.period] = [body_id, rev.period, 1, rev.submitted_at, rev.late, rev_id, grid]
    # Plain driver executemany: these are the hot rows (up to 800 a report, millions in the demo), and
    # building SQLAlchemy parameter dicts for each costs more than the database does.
    columns = ", ".join(_CELL_COLUMNS)
    style = conn.dialect.paramstyle
    if versions:
        conn.exec_driver_sql(_sql(style, f"INSERT INTO cell_versions ({columns}) VALUES ({{params}})", 10), versions)
    if newest:
        conn.exec_driver_sql(
            _sql(style, f"INSERT INTO cells ({columns}) VALUES ({{params}}) "
                        f"ON CONFLICT (body_id, operation_id, step_id) DO UPDATE SET {_UPDATED}", 10),
            list(newest.values()),
        )
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
