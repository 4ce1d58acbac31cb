"""National status matrices per period, read from body_periods and cached per process.

A matrix holds every body's status grid as of a period (one row per body, one byte per cell); its summary
(summary.py) is what the statistics read. A new revision of period P patches the kept matrices and
summaries of P and later periods with the reporting bodies' rows, and drops the answers rendered from them."""

import collections
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from pmo import caching, periods
from pmo.config import get_settings
from pmo.models import Body, BodyPeriod, ReportRevision
from pmo.reports.grid import DONE, N_STEPS, NOT_APPLICABLE, Catalog, decode_grid, grid_template, load_catalog
from pmo.stats.groups import STATS_KIND_OF
from pmo.stats.summary import Atoms, PeriodSummary, RowChange, patched, summarize

T = TypeVar("T")

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
    atoms: Atoms

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

    def operation_done(self, row: int, op_id: int) -> float:
        """The share of an operation's steps the body in row had completed (完了済み or 対象外)."""
        steps = self.statuses[row, (op_id - 1) * N_STEPS : op_id * N_STEPS]
        return float(((steps == DONE) | (steps == NOT_APPLICABLE)).mean())


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
        atoms=Atoms.of(prefecture, stats_kind),
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


def scan_matrices(session: Session, directory: Directory, wanted: list[int]) -> Iterator[PeriodMatrix]:
    """Every body's grid as of each wanted period, in order (its newest summary at or before it, else its
    template), from one ordered pass over the summaries; yields one period at a time so that a cold start
    over the whole history never holds more than one matrix of its own."""
    wanted = sorted(set(wanted))
    as_of = _as_of_by_period(session, wanted[-1])
    rows = session.execute(
        select(BodyPeriod.period, BodyPeriod.body_id, BodyPeriod.statuses, BodyPeriod.late)
        .where(BodyPeriod.period <= wanted[-1])
        .order_by(BodyPeriod.period)
    )
    statuses = directory.templates.copy()
    n = len(directory.body_ids)
    pending = iter(wanted)
    target: int | None = next(pending)
    reported, on_time = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)

    def snapshot(period: int) -> PeriodMatrix:
        known = [at for p, at in as_of.items() if p <= period]
        return PeriodMatrix(period, statuses.copy(), reported.copy(), on_time.copy(), known[-1] if known else None)

    for period, body_id, blob, late in rows:
        while target is not None and period > target:
            yield snapshot(target)
            reported[:], on_time[:] = False, False
            target = next(pending, None)
        if target is None:
            break
        i = _apply(directory, statuses, body_id, blob)
        if i is not None and period == target:
            reported[i], on_time[i] = True, not late
    while target is not None:
        yield snapshot(target)
        reported[:], on_time[:] = False, False
        target = next(pending, None)


def load_matrix(
    session: Session, directory: Directory, period: int, previous: PeriodMatrix | None = None
) -> PeriodMatrix:
    """Every body's grid as of one period: the previous period's matrix with this period's summaries laid
    over it (one indexed read of the period), or without it each body's newest summary at or before the
    period (an index seek per body) — never a scan of the history."""
    statuses = previous.statuses.copy() if previous is not None else directory.templates.copy()
    reported = np.zeros(len(directory.body_ids), dtype=bool)
    on_time = np.zeros(len(directory.body_ids), dtype=bool)
    columns = (BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.statuses, BodyPeriod.late)
    if previous is not None:
        query = select(*columns).where(BodyPeriod.period == period)
    else:
        earlier = aliased(BodyPeriod)
        newest = (
            select(func.max(earlier.period))
            .where(earlier.body_id == Body.id, earlier.period <= period)
            .correlate(Body)
            .scalar_subquery()
        )
        query = (
            select(*columns)
            .select_from(Body)
            .join(BodyPeriod, (BodyPeriod.body_id == Body.id) & (BodyPeriod.period == newest))
        )
    for body_id, row_period, blob, late in session.execute(query):
        i = _apply(directory, statuses, body_id, blob)
        if i is not None and row_period == period:
            reported[i], on_time[i] = True, not late
    submitted = func.max(ReportRevision.submitted_at)
    if previous is not None:
        newest_here = session.scalar(select(submitted).where(ReportRevision.period == period))
        as_of = max(filter(None, (previous.as_of, newest_here)), default=None)
    else:
        as_of = session.scalar(select(submitted).where(ReportRevision.period <= period))
    return PeriodMatrix(period, statuses, reported, on_time, as_of)


def _matrix_bytes(matrix: PeriodMatrix) -> int:
    return matrix.statuses.nbytes + matrix.reported.nbytes + matrix.on_time.nbytes


PATCH_AT_MOST = 256  # new revisions patched into the kept matrices and summaries; more (a bulk load): reload
SCAN_ABOVE = 6  # more missing periods than this are read in one ordered pass; fewer, one indexed read each


class StatsCache:
    """The statistics' caches of this process (the directory, period matrices and summaries, rendered answers
    and derived values), kept in step with the data: a new revision of period P drops what depends on P or
    later. Each has a byte budget; a summary (≈0.4 MB) is all a period's statistics need, a matrix (≈1.4 MB,
    a row per body) only the figures per body and the next period's load."""

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
            max_entries=100_000,
            max_bytes=lambda: settings().stats_matrix_cache_mb * 2**20,
            sizeof=_matrix_bytes,
        )
        self.summaries: caching.Cache[int, PeriodSummary] = caching.Cache(
            "stats_summaries",
            max_entries=100_000,
            max_bytes=lambda: settings().stats_summary_cache_mb * 2**20,
            sizeof=lambda summary: summary.nbytes,
        )
        self.responses: caching.Cache[tuple, tuple[bytes, str]] = caching.Cache(
            "stats_responses",
            max_entries=100_000,
            max_bytes=lambda: settings().stats_response_cache_mb * 2**20,
            sizeof=lambda hit: len(hit[0]),
        )
        self.derived: caching.Cache[tuple, object] = caching.Cache(
            "stats_derived",
            max_entries=MAX_DERIVED,
            max_bytes=lambda: settings().stats_derived_cache_mb * 2**20,
            sizeof=caching.deep_sizeof,
        )
        self.version: int | None = None
        self._n_bodies: int | None = None
        # (data version before, after, first period it changed) of the latest syncs: what was read at an older
        # version may still be kept for the periods no later report touched (under a steady stream of reports
        # the version moves while matrices load, and nothing loaded would ever be kept)
        self._changes: collections.deque[tuple[int, int, int]] = collections.deque(maxlen=256)

    def _period_caches(self) -> tuple[caching.Cache, ...]:
        return (self.matrices, self.summaries, self.responses, self.derived)

    def clear(self) -> None:
        with self._lock:
            for named in (self.directories, *self._period_caches()):
                named.clear()
            self.version, self._n_bodies = None, None
            self._changes.clear()
            self.watch.expire()

    def current(self) -> bool:
        """Whether kept answers may be served without asking the database (no recheck due; nothing noted)."""
        return self.version is not None and not self.watch.due()

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
                new = self._new_revisions(session, self.version) if version > self.version else []
                stale_from = min((period for _, period, _ in new), default=0)
                stale: tuple[caching.Cache, ...] = self._period_caches()
                if 0 < len(new) <= PATCH_AT_MOST and self._patch(session, new):
                    stale = (self.responses, self.derived)  # matrices and summaries are up to date again
                for named in stale:
                    named.discard(lambda _key, depends_on: isinstance(depends_on, int) and depends_on >= stale_from)
                self._changes.append((self.version, version, stale_from))
            self.version = version
            return version

    def _holds(self, version: int | None, period: int) -> bool:
        """Whether what was read for period at data version `version` is still true now: no report since then
        changed that period or an earlier one (the caller holds _lock)."""
        if version is None or self.version is None:
            return False
        if version == self.version:
            return True
        since = [change for change in self._changes if change[1] > version]
        if not since or since[0][0] > version:  # the changes kept do not reach back to that version
            return False
        return all(stale_from > period for _, _, stale_from in since)

    @staticmethod
    def _new_revisions(session: Session, since: int) -> list[tuple[int, int, datetime]]:
        """(body, period, submitted at) of every revision after the data version `since`."""
        query = select(ReportRevision.body_id, ReportRevision.period, ReportRevision.submitted_at)
        return [(b, p, at) for b, p, at in session.execute(query.where(ReportRevision.id > since))]

    def _patch(self, session: Session, new: list[tuple[int, int, datetime]]) -> bool:
        """Bring the kept matrices and summaries of the changed periods up to date by replacing the rows of the
        bodies that reported (their own summaries, read by primary key), instead of dropping them: what a
        report costs then follows its rows. False (nothing changed) when that cannot be done exactly."""
        directory = self.directories.get("directory")
        if directory is None or any(body_id not in directory.row_of for body_id, _, _ in new):
            return False
        first: dict[int, int] = {}
        for body_id, period, _ in new:
            first[body_id] = min(period, first.get(body_id, period))
        stale_from = min(first.values())
        rows = session.execute(
            select(BodyPeriod.body_id, BodyPeriod.period, BodyPeriod.statuses, BodyPeriod.late)
            .where(BodyPeriod.body_id.in_(first), BodyPeriod.period >= stale_from)
            .order_by(BodyPeriod.body_id, BodyPeriod.period)
        )
        summaries_of: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
        for body_id, period, blob, late in rows:
            if period >= first[body_id]:
                grid = np.frombuffer(decode_grid(blob), dtype=np.uint8)[: directory.width]
                summaries_of.setdefault(body_id, []).append((period, grid, not late))
        if any(not summaries_of.get(body_id) or summaries_of[body_id][0][0] != p for body_id, p in first.items()):
            return False  # a report without its period summary (never written so): reload instead
        kept = set(self.matrices.keys()) | set(self.summaries.keys())
        for period in sorted(p for p in kept if p >= stale_from):
            self._patch_period(directory, period, first, summaries_of, new)
        return True

    def _patch_period(
        self,
        directory: Directory,
        period: int,
        first: dict[int, int],
        summaries_of: dict[int, list[tuple[int, np.ndarray, bool]]],
        new: list[tuple[int, int, datetime]],
    ) -> None:
        matrix, summary = self.matrices.get(period), self.summaries.get(period)
        if matrix is None:  # a summary is patched from its matrix's old rows; without them it goes
            self.summaries.discard(lambda key, _tag: key == period)
            return
        statuses, reported, on_time = matrix.statuses.copy(), matrix.reported.copy(), matrix.on_time.copy()
        changes = []
        for body_id, since in first.items():
            if since > period:
                continue
            i = directory.row_of[body_id]
            newest = [(p, grid, timely) for p, grid, timely in summaries_of.get(body_id, []) if p <= period][-1]
            statuses[i, : newest[1].size] = newest[1]
            reported[i], on_time[i] = newest[0] == period, newest[0] == period and newest[2]
            changes.append(
                RowChange(
                    i, matrix.statuses[i], statuses[i], matrix.reported[i], reported[i], matrix.on_time[i], on_time[i]
                )
            )
        newest_at = max((at for _, p, at in new if p <= period), default=None)
        as_of = max(filter(None, (matrix.as_of, newest_at)), default=None)
        self.matrices.put(period, PeriodMatrix(period, statuses, reported, on_time, as_of), tag=period)
        if summary is not None:
            self.summaries.put(
                period, patched(summary, directory.atoms, directory.stats_kind, changes, as_of), tag=period
            )

    def remember(self, key: tuple, depends_on: int, compute: Callable[[], T]) -> T:
        """A value derived from the matrices up to period depends_on, computed once per data version."""
        return cast(T, self.derived.get_or_put(key, compute, tag=depends_on))  # the key says which compute made it

    def get_directory(self, session: Session) -> Directory:
        return self.directories.get_or_put("directory", lambda: load_directory(session))

    def get_matrix(self, session: Session, period: int) -> PeriodMatrix:
        matrix = self.matrices.get(period)
        return matrix if matrix is not None else self.get_matrices(session, [period])[period]

    def get_matrices(self, session: Session, wanted: list[int]) -> dict[int, PeriodMatrix]:
        """Matrices of several periods; the missing ones are loaded by one thread at a time: requests that
        arrive while matrices load (a cold start, the warm-up) wait for that load instead of repeating it
        side by side (eight at once took 30–50 s on two cores)."""
        found = self._cached(wanted)
        if len(found) == len(set(wanted)):
            return found
        with self._loading:
            return {m.period: m for m in self._matrices_in_order(session, sorted(set(wanted)))}

    def get_summaries(self, session: Session, wanted: list[int]) -> dict[int, PeriodSummary]:
        """Summaries of several periods; a missing one is made from its matrix (kept or loaded)."""
        found = {p: hit for p in dict.fromkeys(wanted) if (hit := self.summaries.get(p)) is not None}
        if len(found) == len(set(wanted)):
            return found
        with self._loading:
            found = {p: hit for p in dict.fromkeys(wanted) if (hit := self.summaries.get(p)) is not None}
            missing = sorted(set(wanted) - found.keys())
            version, directory = self.version, self.get_directory(session)
            for matrix in self._matrices_in_order(session, missing):
                summary = summarize_matrix(directory, matrix)
                with self._lock:
                    if self._holds(version, matrix.period):
                        self.summaries.put(matrix.period, summary, tag=matrix.period)
                found[matrix.period] = summary
        return found

    def get_summary(self, session: Session, period: int) -> PeriodSummary:
        return self.get_summaries(session, [period])[period]

    def _matrices_in_order(self, session: Session, wanted: list[int]) -> Iterator[PeriodMatrix]:
        """The matrices of wanted (ascending), kept ones first, the others loaded; the caller holds _loading."""
        kept = self._cached(wanted)
        to_load = [p for p in wanted if p not in kept]
        loaded = self._load(session, to_load) if to_load else iter(())
        for period in wanted:
            yield kept[period] if period in kept else next(loaded)

    def _load(self, session: Session, periods_: list[int]) -> Iterator[PeriodMatrix]:
        version, directory = self.version, self.get_directory(session)
        if len(periods_) > SCAN_ABOVE:
            loaded = scan_matrices(session, directory, periods_)
        else:
            loaded = self._load_each(session, directory, periods_)
        for matrix in loaded:
            with self._lock:
                if self._holds(version, matrix.period):  # else newer reports changed it while loading
                    self.matrices.put(matrix.period, matrix, tag=matrix.period)
            yield matrix

    def _load_each(self, session: Session, directory: Directory, periods_: list[int]) -> Iterator[PeriodMatrix]:
        previous: PeriodMatrix | None = None
        for period in periods_:
            before = periods.add_months(period, -1)
            if previous is None or previous.period != before:
                previous = self.matrices.get(before)
            previous = load_matrix(session, directory, period, previous)
            yield previous

    def _cached(self, wanted: list[int]) -> dict[int, PeriodMatrix]:
        found = {p: self.matrices.get(p) for p in dict.fromkeys(wanted)}
        return {p: m for p, m in found.items() if m is not None}


cache = StatsCache()


def summarize_matrix(directory: Directory, matrix: PeriodMatrix) -> PeriodSummary:
    """The period's summary over the directory's atoms."""
    return summarize(
        directory.atoms,
        directory.stats_kind,
        matrix.statuses,
        matrix.reported,
        matrix.on_time,
        matrix.period,
        matrix.as_of,
    )


def warm_up() -> None:
    """Summarize every period since tracking began (one pass), so that the first dashboard or lagging-list
    request after a start does not pay for it (runs in a background thread)."""
    import logging

    from pmo.db import session_scope

    try:
        with session_scope(stats=True) as session:
            cache.sync(session)
            last = periods.add_months(periods.current(), -1)
            cache.get_summaries(session, periods.span(min(periods.TRACKING_START, last), last))
    except Exception:  # a cold cache is only slower; never let warming stop the service
        logging.getLogger("pmo").warning("statistics cache warm-up failed", exc_info=True)
