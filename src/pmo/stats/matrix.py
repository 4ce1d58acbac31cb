"""National status matrices per period, read from body_periods and cached per process.

A matrix holds every body's status grid as of a period (one row per body, one byte per cell).
The cache is invalidated precisely: a new revision of period P invalidates P and later periods."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo import caching
from pmo.config import get_settings
from pmo.models import Body, BodyPeriod, ReportRevision
from pmo.reports.grid import N_STEPS, Catalog, decode_grid, grid_template, load_catalog
from pmo.stats.groups import STATS_KIND_OF

T = TypeVar("T")

MAX_CACHED_MATRICES = 80
MAX_DERIVED = 512  # derived values kept (dashboards cache one per filter combination: bound them)


@dataclass(frozen=True)
class Directory:
    """Master data the statistics group by; rows of every matrix follow `body_ids`."""

    catalog: Catalog
    body_ids: np.ndarray
    prefecture: np.ndarray  # 2-digit codes
    prefecture_names: dict[str, str]
    kind: np.ndarray  # the directory's kinds (designated_city … village)
    stats_kind: np.ndarray  # the kinds statistics publish (groups.STATS_KINDS)
    templates: np.ndarray  # (n_bodies, width) uint8: not started where the body reports, 0 elsewhere
    row_of: dict[int, int]

    @property
    def width(self) -> int:
        return int(self.templates.shape[1])


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
    prefecture = np.array([b.prefecture_code for b in bodies])
    stats_kind = np.array([STATS_KIND_OF[b.kind] for b in bodies])
    return Directory(
        catalog=catalog,
        body_ids=np.array([b.id for b in bodies], dtype=np.int64),
        prefecture=prefecture,
        prefecture_names={b.prefecture_code: b.prefecture_name for b in bodies},
        kind=np.array([b.kind for b in bodies]),
        stats_kind=stats_kind,
        templates=templates.reshape(len(bodies), width),
        row_of={b.id: i for i, b in enumerate(bodies)},
    )


def _as_of_by_period(session: Session, up_to: int) -> dict[int, datetime | None]:
    """The newest submission among reports of each period or earlier."""
    rows = session.execute(
        select(ReportRevision.period, func.max(ReportRevision.submitted_at))
        .where(ReportRevision.period <= up_to)
        .group_by(ReportRevision.period)
        .order_by(ReportRevision.period)
    ).all()
    newest, out = None, {}
    for period, at in rows:
        newest = max(filter(None, (newest, at)), default=None)
        out[period] = newest
    return out


def _apply(directory: Directory, statuses: np.ndarray, body_id: int, blob: bytes) -> int | None:
    i = directory.row_of.get(body_id)
    if i is not None:
        grid = np.frombuffer(decode_grid(blob), dtype=np.uint8)
        statuses[i, : min(directory.width, grid.size)] = grid[: directory.width]
    return i


def load_matrices(session: Session, directory: Directory, wanted: list[int]) -> dict[int, PeriodMatrix]:
    """Every body's grid as of each wanted period (its newest summary at or before it, else its template),
    in one ordered pass over the summaries."""
    wanted = sorted(set(wanted))
    as_of = _as_of_by_period(session, wanted[-1])
    rows = session.execute(
        select(BodyPeriod.period, BodyPeriod.body_id, BodyPeriod.statuses, BodyPeriod.late)
        .where(BodyPeriod.period <= wanted[-1])
        .order_by(BodyPeriod.period)
    )
    statuses = directory.templates.copy()
    out: dict[int, PeriodMatrix] = {}
    n = len(directory.body_ids)
    pending = iter(wanted)
    target: int | None = next(pending)
    reported, on_time = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)

    def snapshot(period: int) -> PeriodMatrix:
        known = [at for p, at in as_of.items() if p <= period]
        return PeriodMatrix(period, statuses.copy(), reported.copy(), on_time.copy(), known[-1] if known else None)

    for period, body_id, blob, late in rows:
        while target is not None and period > target:
            out[target] = snapshot(target)
            reported[:], on_time[:] = False, False
            target = next(pending, None)
        if target is None:
            break
        i = _apply(directory, statuses, body_id, blob)
        if i is not None and period == target:
            reported[i], on_time[i] = True, not late
    while target is not None:
        out[target] = snapshot(target)
        reported[:], on_time[:] = False, False
        target = next(pending, None)
    return out


def load_matrix(session: Session, directory: Directory, period: int) -> PeriodMatrix:
    """Every body's grid as of one period, reading only each body's newest summary at or before it."""
    latest = (
        select(BodyPeriod.body_id, func.max(BodyPeriod.period).label("period"))
        .where(BodyPeriod.period <= period)
        .group_by(BodyPeriod.body_id)
        .subquery()
    )
    rows = session.execute(
        select(BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.statuses, BodyPeriod.late).join(
            latest, (BodyPeriod.body_id == latest.c.body_id) & (BodyPeriod.period == latest.c.period)
        )
    ).all()
    statuses = directory.templates.copy()
    reported = np.zeros(len(directory.body_ids), dtype=bool)
    on_time = np.zeros(len(directory.body_ids), dtype=bool)
    for body_id, row_period, blob, late in rows:
        i = _apply(directory, statuses, body_id, blob)
        if i is not None and row_period == period:
            reported[i], on_time[i] = True, not late
    as_of = session.scalar(select(func.max(ReportRevision.submitted_at)).where(ReportRevision.period <= period))
    return PeriodMatrix(period, statuses, reported, on_time, as_of)


def _matrix_bytes(matrix: PeriodMatrix) -> int:
    return matrix.statuses.nbytes + matrix.reported.nbytes + matrix.on_time.nbytes


class StatsCache:
    """The statistics' caches of this process (the directory, period matrices, rendered answers and derived
    values), kept in step with the data: a new revision of period P drops what depends on P or later."""

    def __init__(self) -> None:
        settings = get_settings
        self._loading = threading.Lock()
        self._lock = threading.RLock()
        self.watch = caching.DataVersion(
            {ReportRevision.__tablename__, Body.__tablename__}, lambda: settings().stats_recheck_seconds
        )
        self.directories: caching.Cache[str, Directory] = caching.Cache(
            "stats_directory", max_entries=1, sizeof=lambda d: d.templates.nbytes
        )
        self.matrices: caching.Cache[int, PeriodMatrix] = caching.Cache(
            "stats_matrices",
            max_entries=MAX_CACHED_MATRICES,
            max_bytes=lambda: settings().stats_matrix_cache_mb * 2**20,
            sizeof=_matrix_bytes,
        )
        self.responses: caching.Cache[tuple, tuple[bytes, str]] = caching.Cache(
            "stats_responses",
            max_entries=100_000,
            max_bytes=lambda: settings().stats_response_cache_mb * 2**20,
            sizeof=lambda hit: len(hit[0]),
        )
        self.derived: caching.Cache[tuple, object] = caching.Cache("stats_derived", max_entries=MAX_DERIVED)
        self.version: int | None = None
        self._n_bodies: int | None = None

    def clear(self) -> None:
        with self._lock:
            for named in (self.directories, self.matrices, self.responses, self.derived):
                named.clear()
            self.version, self._n_bodies = None, None
            self.watch.expire()

    def recheck_due(self) -> bool:
        """Whether to ask the database for its data version now (PMO_STATS_RECHECK_SECONDS, or at once after
        this process stored a report)."""
        return self.version is None or self.watch.recheck_due()

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
                stale_from = 0 if changed_from is None or version < self.version else changed_from
                for named in (self.matrices, self.responses, self.derived):
                    named.discard(lambda _key, depends_on: isinstance(depends_on, int) and depends_on >= stale_from)
            self.version = version
            return version

    def remember(self, key: tuple, depends_on: int, compute: Callable[[], T]) -> T:
        """A value derived from the matrices up to period depends_on, computed once per data version."""
        return cast(T, self.derived.get_or_put(key, compute, tag=depends_on))  # the key says which compute made it

    def get_directory(self, session: Session) -> Directory:
        return self.directories.get_or_put("directory", lambda: load_directory(session))

    def get_matrix(self, session: Session, period: int) -> PeriodMatrix:
        matrix = self.matrices.get(period)
        return matrix if matrix is not None else self.get_matrices(session, [period])[period]

    def get_matrices(self, session: Session, wanted: list[int]) -> dict[int, PeriodMatrix]:
        """Matrices of several periods; the missing ones are loaded in one pass, by one thread at a time:
        requests that arrive while matrices load (a cold start, the warm-up) wait for that load instead of
        repeating it side by side (eight at once took 30–50 s on two cores)."""
        found = self._cached(wanted)
        if len(found) == len(set(wanted)):
            return found
        with self._loading:
            found = self._cached(wanted)
            missing = [p for p in dict.fromkeys(wanted) if p not in found]
            if missing:
                version = self.version
                directory = self.get_directory(session)
                if len(missing) == 1:
                    loaded = {missing[0]: load_matrix(session, directory, missing[0])}
                else:
                    loaded = load_matrices(session, directory, missing)
                with self._lock:
                    if self.version == version:  # else newer reports arrived while loading: not for keeps
                        for period, matrix in loaded.items():
                            self.matrices.put(period, matrix, tag=period)
                found.update(loaded)
        return found

    def _cached(self, wanted: list[int]) -> dict[int, PeriodMatrix]:
        found = {p: self.matrices.get(p) for p in dict.fromkeys(wanted)}
        return {p: m for p, m in found.items() if m is not None}


cache = StatsCache()


def completion(directory: Directory, matrix: PeriodMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Per body × operation slot: MIC's completion rate (NaN where the body does not report the
    operation), and per body the overall rate (mean over its operations)."""
    n_slots = directory.width // N_STEPS
    grid = matrix.statuses.reshape(len(directory.body_ids), n_slots, N_STEPS)
    applies = grid[:, :, 0] != 0
    done = ((grid == 1) | (grid == 4)).sum(axis=2) / N_STEPS
    per_operation = np.where(applies, done, np.nan)
    with np.errstate(invalid="ignore"):
        overall = np.nanmean(np.where(applies, done, np.nan), axis=1) if applies.any() else np.zeros(len(done))
    return per_operation, np.nan_to_num(overall)


def warm_up() -> None:
    """Load the directory and every period's matrix since tracking began, so that the first dashboard
    or lagging-list request after a start does not pay for it (runs in a background thread)."""
    import logging

    from pmo import periods
    from pmo.db import session_scope

    try:
        with session_scope(stats=True) as session:
            cache.sync(session)
            last = periods.add_months(periods.current(), -1)
            cache.get_matrices(session, periods.span(min(periods.TRACKING_START, last), last))
    except Exception:  # a cold cache is only slower; never let warming stop the service
        logging.getLogger("pmo").warning("statistics cache warm-up failed", exc_info=True)
