"""National status matrices per period, read from body_periods and cached per process.

A matrix holds every body's status grid as of a period (one row per body, one byte per cell).
The cache is invalidated precisely: a new revision of period P invalidates P and later periods."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo.models import Body, BodyPeriod, ReportRevision
from pmo.reports.grid import N_STEPS, Catalog, decode_grid, grid_template, load_catalog

MAX_CACHED_MATRICES = 80


@dataclass(frozen=True)
class Directory:
    """Master data the statistics group by; rows of every matrix follow `body_ids`."""

    catalog: Catalog
    body_ids: np.ndarray
    prefecture: np.ndarray  # 2-digit codes
    prefecture_names: dict[str, str]
    kind: np.ndarray
    templates: np.ndarray  # (n_bodies, width) uint8: not started where the body reports, 0 elsewhere
    row_of: dict[int, int]

    @property
    def width(self) -> int:
        return self.templates.shape[1]


@dataclass(frozen=True)
class PeriodMatrix:
    period: int
    statuses: np.ndarray  # (n_bodies, width) uint8
    reported: np.ndarray  # bool per body: submitted a report for this very period
    on_time: np.ndarray  # bool per body: its first report for the period came by the due time
    as_of: datetime | None  # newest submission included


def load_directory(session: Session) -> Directory:
    """Bodies and the operation × step layout, as the statistics see them."""
    catalog = load_catalog(session)
    bodies = list(session.scalars(select(Body).order_by(Body.id)))
    templates = np.frombuffer(b"".join(grid_template(catalog, b) for b in bodies), dtype=np.uint8)
    width = N_STEPS * max(catalog.op_by_id)
    return Directory(
        catalog=catalog,
        body_ids=np.array([b.id for b in bodies], dtype=np.int64),
        prefecture=np.array([b.prefecture_code for b in bodies]),
        prefecture_names={b.prefecture_code: b.prefecture_name for b in bodies},
        kind=np.array([b.kind for b in bodies]),
        templates=templates.reshape(len(bodies), width),
        row_of={b.id: i for i, b in enumerate(bodies)},
    )


def load_matrix(session: Session, directory: Directory, period: int) -> PeriodMatrix:
    """Every body's grid as of period: its newest summary at or before period, else its template."""
    latest = (
        select(BodyPeriod.body_id, func.max(BodyPeriod.period).label("period"))
        .where(BodyPeriod.period <= period).group_by(BodyPeriod.body_id).subquery()
    )
    rows = session.execute(
        select(BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.statuses, BodyPeriod.late)
        .join(latest, (BodyPeriod.body_id == latest.c.body_id) & (BodyPeriod.period == latest.c.period))
    ).all()
    statuses = directory.templates.copy()
    reported = np.zeros(len(directory.body_ids), dtype=bool)
    on_time = np.zeros(len(directory.body_ids), dtype=bool)
    width = directory.width
    for body_id, row_period, blob, late in rows:
        i = directory.row_of.get(body_id)
        if i is None:
            continue
        grid = np.frombuffer(decode_grid(blob), dtype=np.uint8)
        statuses[i, : min(width, grid.size)] = grid[:width]
        if row_period == period:
            reported[i] = True
            on_time[i] = not late
    as_of = session.scalar(select(func.max(ReportRevision.submitted_at)).where(ReportRevision.period <= period))
    return PeriodMatrix(period, statuses, reported, on_time, as_of)


class StatsCache:
    """Per-process cache of the directory, matrices and rendered responses, kept in step with the data."""

    def __init__(self):
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.version: int | None = None
            self.directory: Directory | None = None
            self._n_bodies: int | None = None
            self.matrices: OrderedDict[int, PeriodMatrix] = OrderedDict()
            self.responses: dict[tuple, tuple[int, bytes, str]] = {}

    def sync(self, session: Session) -> int:
        """Drop whatever newer revisions made stale; returns the data version (newest revision id)."""
        version = session.scalar(select(func.max(ReportRevision.id))) or 0
        n_bodies = session.scalar(select(func.count()).select_from(Body))
        with self._lock:
            if n_bodies != self._n_bodies:
                self.clear()
                self._n_bodies = n_bodies
            if self.version is not None and version != self.version:
                changed_from = session.scalar(
                    select(func.min(ReportRevision.period)).where(ReportRevision.id > self.version)
                )
                if changed_from is None or version < self.version:
                    self.matrices.clear()
                    self.responses.clear()
                else:
                    for period in [p for p in self.matrices if p >= changed_from]:
                        del self.matrices[period]
                    self.responses = {k: v for k, v in self.responses.items() if v[0] < changed_from}
            self.version = version
            return version

    def get_directory(self, session: Session) -> Directory:
        with self._lock:
            if self.directory is None:
                self.directory = load_directory(session)
            return self.directory

    def get_matrix(self, session: Session, period: int) -> PeriodMatrix:
        with self._lock:
            matrix = self.matrices.get(period)
            if matrix is not None:
                self.matrices.move_to_end(period)
                return matrix
        matrix = load_matrix(session, self.get_directory(session), period)
        with self._lock:
            self.matrices[period] = matrix
            while len(self.matrices) > MAX_CACHED_MATRICES:
                self.matrices.popitem(last=False)
        return matrix


cache = StatsCache()
