"""Writing revisions: the one path by which report data enters the database (API, uploads, demo)."""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pmo import caching
from pmo.models import BodyCells, BodyPeriod, ReportRevision, RevisionCells
from pmo.reports.cellgrid import CellGrid, Changes
from pmo.reports.grid import compress_grid
from pmo.reports.history import packed_changes_up_to


@dataclass
class NewRevision:
    """One submission to store, with the cells it changes."""

    body_id: int
    period: int
    revision: int
    submitted_at: datetime
    account_id: int | None
    submitted_by: str
    late: bool
    source: str
    changes: Changes


@lru_cache(maxsize=4)
def _statements(dialect: str) -> dict[str, Insert]:
    """The writer's statements, built once per dialect (building an upsert's `excluded` alias costs more
    than executing it)."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    revisions = ReportRevision.__table__
    cells = upsert(BodyCells.__table__)
    summaries = upsert(BodyPeriod.__table__)
    return {
        "revision": insert(revisions).returning(revisions.c.id, sort_by_parameter_order=True),
        "changes": insert(RevisionCells.__table__),
        "cells": cells.on_conflict_do_update(
            index_elements=["body_id"], set_={"revision_id": cells.excluded.revision_id, "cells": cells.excluded.cells}
        ),
        "summary": summaries.on_conflict_do_update(
            index_elements=["body_id", "period"],
            set_={
                "revisions": BodyPeriod.__table__.c.revisions + summaries.excluded.revisions,
                "last_revision_id": summaries.excluded.last_revision_id,
                "statuses": summaries.excluded.statuses,
            },
        ),
    }


def write_revisions(
    session: Session, body_id: int, revisions: list[NewRevision], *, base_grid: bytes, cells: CellGrid | None
) -> list[int]:
    """Insert one body's revisions (in order), the cells each changed and the period summaries; base_grid
    is the raw status grid as of the first revision's period before it. Pass cells, the body's current
    cells, when the revisions come at or after its newest period: they are updated and stored; with
    None the current cells are left to rebuild_after_correction. Returns the revision ids."""
    caching.note_write(session, ReportRevision.__tablename__)
    if not revisions:
        return []
    conn = session.connection()
    statements = _statements(conn.dialect.name)
    ids = list(
        conn.scalars(
            statements["revision"],
            [
                {
                    "body_id": body_id,
                    "period": r.period,
                    "revision": r.revision,
                    "submitted_at": r.submitted_at,
                    "account_id": r.account_id,
                    "submitted_by": r.submitted_by,
                    "late": r.late,
                    "n_changed": len(r.changes),
                    "source": r.source,
                }
                for r in revisions
            ],
        )
    )
    changed: list[dict] = []
    statuses = bytearray(base_grid)
    summaries: dict[int, dict] = {}
    for rev, rev_id in zip(revisions, ids, strict=True):
        changes = rev.changes
        if changes:
            changed.append({"body_id": body_id, "period": rev.period, "revision_id": rev_id, "cells": changes.pack()})
            changes.set_statuses(statuses)
            if cells is not None:
                cells.apply(changes, rev.period)
        summary = summaries.setdefault(
            rev.period,
            {
                "body_id": body_id,
                "period": rev.period,
                "revisions": 0,
                "first_submitted_at": rev.submitted_at,
                "late": rev.late,
            },
        )
        summary.update(revisions=summary["revisions"] + 1, last_revision_id=rev_id, statuses=compress_grid(statuses))
    if changed:
        conn.execute(statements["changes"], changed)
        if cells is not None:
            _store_cells(conn, body_id, changed[-1]["revision_id"], cells)
    conn.execute(statements["summary"], list(summaries.values()))
    return ids


def _store_cells(conn: Connection, body_id: int, revision_id: int, cells: CellGrid) -> None:
    conn.execute(
        _statements(conn.dialect.name)["cells"], {"body_id": body_id, "revision_id": revision_id, "cells": cells.pack()}
    )


def rebuild_after_correction(session: Session, body_id: int, period: int, template: bytes) -> None:
    """After a correction of period: the status grids of every later period the body reported, and its
    current cells, replayed from its history."""
    later = iter(
        session.scalars(
            select(BodyPeriod.period)
            .where(BodyPeriod.body_id == body_id, BodyPeriod.period > period)
            .order_by(BodyPeriod.period)
        ).all()
    )
    target = next(later, None)
    grid = CellGrid.blank(template)
    conn = session.connection()
    summaries = BodyPeriod.__table__

    def store_grid(target_period: int) -> None:
        conn.execute(
            summaries.update()
            .where(summaries.c.body_id == body_id, summaries.c.period == target_period)
            .values(statuses=compress_grid(grid.statuses))
        )

    last_revision_id = None
    for row_period, revision_id, blob in packed_changes_up_to(session, body_id):
        while target is not None and row_period > target:
            store_grid(target)
            target = next(later, None)
        grid.apply(Changes.unpack(blob), row_period)
        last_revision_id = revision_id
    while target is not None:
        store_grid(target)
        target = next(later, None)
    if last_revision_id is not None:
        _store_cells(conn, body_id, last_revision_id, grid)
