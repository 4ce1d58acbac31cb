"""Reading a body's report history: where it stands (newest period, revisions, ETag), its cells as of any
period, and each revision's changes."""

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import BindParameter, Row, bindparam, case, func, select
from sqlalchemy.orm import Session

from pmo.models import BodyCells, ReportRevision, RevisionCells
from pmo.reports.cellgrid import CellGrid, Changes
from pmo.reports.grid import NEWEST_SUMMARY


class Standing(NamedTuple):
    """A body's reports seen from one period."""

    newest: int | None  # the newest period it reported
    revisions: int  # revisions of this period so far
    last_revision_id: int | None  # the newest revision of this period or earlier: what the ETag names
    summary: bytes | None  # the status grid of its newest period summary up to this period (compressed)

    @property
    def etag(self) -> str:
        return f'"r{self.last_revision_id or 0}"'


# The hot statements are built once and run on the session's Connection: building and keying a statement
# like _STANDING costs more (≈0.6 ms) than running it, and the ORM's execute of a Core statement about
# doubles the CPU of running it.
_BODY: BindParameter[int] = bindparam("body_id")
_PERIOD: BindParameter[int] = bindparam("period")
_r, _rc = ReportRevision, RevisionCells
_STANDING = select(
    func.max(_r.period),
    func.max(case((_r.period == _PERIOD, _r.revision))),
    func.max(case((_r.period <= _PERIOD, _r.id))),
    NEWEST_SUMMARY.scalar_subquery(),
).where(_r.body_id == _BODY)
_CHANGES = (
    select(_rc.period, _rc.revision_id, _rc.cells)
    .where(_rc.body_id == _BODY, _rc.period <= _PERIOD)
    .order_by(_rc.period, _rc.revision_id)
)
_CURRENT = select(BodyCells.cells).where(BodyCells.body_id == _BODY)
ALL_PERIODS = 999912  # a period after any report


def standing(session: Session, body_id: int, period: int) -> Standing:
    """Newest period, the period's revision count, its ETag and status grid, in one query."""
    params = {"body_id": body_id, "period": period}
    newest, revisions, last, statuses = session.connection().execute(_STANDING, params).one()
    return Standing(newest, revisions or 0, last, statuses)


def packed_changes_up_to(session: Session, body_id: int, period: int | None = None) -> Iterator[Row[int, int, bytes]]:
    """(period, revision id, packed changed cells) of every revision up to period (default all), in the
    order they apply."""
    params = {"body_id": body_id, "period": ALL_PERIODS if period is None else period}
    return iter(session.connection().execute(_CHANGES, params))


def current_cells(session: Session, body_id: int, template: bytes) -> CellGrid:
    """The body's cells as of its newest report."""
    blob = session.connection().scalar(_CURRENT, {"body_id": body_id})
    return CellGrid.unpack(blob, template) if blob is not None else CellGrid.blank(template)


def replayed_cells(session: Session, body_id: int, template: bytes, period: int | None = None) -> CellGrid:
    """The body's cells as of period (default: its newest report), rebuilt from its history."""
    grid = CellGrid.blank(template)
    for row_period, _, blob in packed_changes_up_to(session, body_id, period):
        grid.apply(Changes.unpack(blob), row_period)
    return grid


def cells_as_of(session: Session, body_id: int, template: bytes, period: int, newest: int | None) -> CellGrid:
    """The body's cells as of period, given its newest reported period (Standing.newest)."""
    if newest is None:
        return CellGrid.blank(template)
    if period >= newest:
        return current_cells(session, body_id, template)
    return replayed_cells(session, body_id, template, period)
