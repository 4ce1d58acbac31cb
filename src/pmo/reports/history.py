"""Reading a body's report history: where it stands (newest period, revisions, ETag), its cells as of any
period, and each revision's changes."""

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from pmo.models import BodyCells, ReportRevision, RevisionCells
from pmo.reports.cellgrid import CellGrid, unpack_changes
from pmo.reports.grid import Position, Value


class Standing(NamedTuple):
    """A body's reports seen from one period."""

    newest: int | None  # the newest period it reported
    revisions: int  # revisions of this period so far
    last_revision_id: int | None  # the newest revision of this period or earlier: what the ETag names

    @property
    def etag(self) -> str:
        return f'"r{self.last_revision_id or 0}"'


def standing(session: Session, body_id: int, period: int) -> Standing:
    """Newest period, the period's revision count and its ETag, in one query."""
    r = ReportRevision
    newest, revisions, last = session.execute(
        select(func.max(r.period), func.max(case((r.period == period, r.revision))),
               func.max(case((r.period <= period, r.id))))
        .where(r.body_id == body_id)
    ).one()
    return Standing(newest, revisions or 0, last)


def packed_changes_up_to(session: Session, body_id: int, period: int | None = None) -> Iterator[Row[tuple[int, int, bytes]]]:
    """(period, revision id, packed changed cells) of every revision up to period (default all), in the
    order they apply."""
    query = select(RevisionCells.period, RevisionCells.revision_id, RevisionCells.cells).where(RevisionCells.body_id == body_id)
    if period is not None:
        query = query.where(RevisionCells.period <= period)
    return iter(session.execute(query.order_by(RevisionCells.period, RevisionCells.revision_id)))


def changes_up_to(
    session: Session, body_id: int, period: int | None = None
) -> Iterator[tuple[int, int, dict[Position, Value]]]:
    """The same with the changed cells unpacked."""
    for row_period, revision_id, blob in packed_changes_up_to(session, body_id, period):
        yield row_period, revision_id, unpack_changes(blob)


def current_cells(session: Session, body_id: int, template: bytes) -> CellGrid:
    """The body's cells as of its newest report."""
    blob = session.scalar(select(BodyCells.cells).where(BodyCells.body_id == body_id))
    return CellGrid.unpack(blob, template) if blob is not None else CellGrid.blank(template)


def replayed_cells(session: Session, body_id: int, template: bytes, period: int | None = None) -> CellGrid:
    """The body's cells as of period (default: its newest report), rebuilt from its history."""
    grid = CellGrid.blank(template)
    for row_period, _, blob in packed_changes_up_to(session, body_id, period):
        grid.apply_packed(blob, row_period)
    return grid


def cells_as_of(session: Session, body_id: int, template: bytes, period: int, newest: int | None) -> CellGrid:
    """The body's cells as of period, given its newest reported period (Standing.newest)."""
    if newest is None:
        return CellGrid.blank(template)
    if period >= newest:
        return current_cells(session, body_id, template)
    return replayed_cells(session, body_id, template, period)
