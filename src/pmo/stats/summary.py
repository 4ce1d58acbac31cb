"""Per-period partial aggregates: what every statistics figure of a period is a sum of (issue #18).

A period's summary counts, per atom (groups.py), the bodies at each status in every cell column, the
bodies that report each operation and how many of them reported; every published group is a union of
atoms, so a figure is a sum over a few atoms — or over the precomputed national and per-kind totals. A
trend over any history is then a sum of small stored pieces: a new report recomputes the summary of its
period (and of the later ones it carries into), never the history."""

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pmo.reports.grid import DONE, IN_PROGRESS, N_STEPS, NOT_APPLICABLE, NOT_STARTED
from pmo.stats.groups import NATIONAL, STATS_KINDS

STATUSES = (DONE, IN_PROGRESS, NOT_STARTED, NOT_APPLICABLE)


@dataclass(frozen=True)
class Atoms:
    """The atoms of the directory: which atom each matrix row belongs to, and each atom's group keys."""

    of_row: np.ndarray  # the atom of each matrix row
    order: np.ndarray  # matrix rows sorted by atom
    starts: np.ndarray  # where each atom's rows begin in `order`
    prefecture: np.ndarray  # (n_atoms,) 2-digit code; NATIONAL for the atom of the prefecture bodies
    stats_kind: np.ndarray  # (n_atoms,)
    size: np.ndarray  # bodies per atom

    @classmethod
    def of(cls, prefecture: np.ndarray, stats_kind: np.ndarray) -> "Atoms":
        names = np.array(
            [f"{NATIONAL if k == 'prefecture' else p}:{k}" for p, k in zip(prefecture, stats_kind, strict=True)]
        )
        unique, first, size = np.unique(names, return_index=True, return_counts=True)
        of_row = np.searchsorted(unique, names)
        return cls(
            of_row=of_row,
            order=np.argsort(of_row, kind="stable"),
            starts=np.concatenate(([0], np.cumsum(size)[:-1])),
            prefecture=np.array([n.split(":")[0] for n in unique]),
            stats_kind=stats_kind[first],
            size=size,
        )

    def sums(self, values: np.ndarray, dtype: type = np.int32) -> np.ndarray:
        """Per atom, the sum of values' rows (values has a row per matrix row)."""
        summed: np.ndarray = np.add.reduceat(values[self.order], self.starts, axis=0, dtype=dtype)
        return summed


@dataclass(frozen=True)
class PeriodSummary:
    """One period's figures per atom, and the totals the national and per-kind groups use."""

    period: int
    counts: np.ndarray  # (n_atoms, 4, width): bodies at each of STATUSES in each cell column
    applies: np.ndarray  # (n_atoms, n_slots): bodies that report each operation slot
    applies_reported: np.ndarray  # (n_atoms, n_slots): of those, how many reported this very period
    any_applies: np.ndarray  # (n_atoms,): bodies that report any operation
    any_reported: np.ndarray  # (n_atoms,): of those, how many reported this period
    reported: np.ndarray  # (n_atoms,): bodies that reported this period
    on_time: np.ndarray  # (n_atoms,): bodies whose first report came by the due time
    national: np.ndarray  # (4, width) counts over every atom
    by_kind: dict[str, np.ndarray]  # (4, width) counts over the atoms of each kind
    overall: np.ndarray  # (n_bodies,): each body's overall completion (MIC's rate, mean over its operations)
    kind_median: dict[str, float]  # per kind, the national median of overall
    as_of: datetime | None

    @property
    def nbytes(self) -> int:
        arrays = [value for value in vars(self).values() if isinstance(value, np.ndarray)]
        return sum(a.nbytes for a in [*arrays, *self.by_kind.values()])

    def group_counts(self, mask: np.ndarray, prefecture: str | None, kind: str | None) -> np.ndarray:
        """(4, width) status counts of the group in mask (a mask over atoms), from totals where they exist."""
        if prefecture is None and kind is None:
            return self.national
        if prefecture is None and kind is not None:
            return self.by_kind[kind]
        summed: np.ndarray = self.counts[mask].sum(axis=0, dtype=np.int64)
        return summed


# What each body adds to its atom's figures, and the integer type each figure is summed in.
_PER_ATOM = {
    "applies": np.int16,
    "applies_reported": np.int16,
    "any_applies": np.int32,
    "any_reported": np.int32,
    "reported": np.int32,
    "on_time": np.int32,
}


def _row_figures(statuses: np.ndarray, reported: np.ndarray, on_time: np.ndarray) -> dict[str, np.ndarray]:
    """Per matrix row, what it adds to its atom: status per cell column (counts), and the _PER_ATOM figures."""
    applies = statuses[:, ::N_STEPS] != 0
    any_applies = applies.any(axis=1)
    return {
        "counts": np.stack([statuses == s for s in STATUSES], axis=1),  # (rows, 4, width)
        "applies": applies,
        "applies_reported": applies & reported[:, None],
        "any_applies": any_applies,
        "any_reported": any_applies & reported,
        "reported": reported,
        "on_time": on_time,
    }


def summarize(
    atoms: Atoms,
    stats_kind: np.ndarray,
    statuses: np.ndarray,
    reported: np.ndarray,
    on_time: np.ndarray,
    period: int,
    as_of: datetime | None,
) -> PeriodSummary:
    """The summary of one period's matrix (statuses: a row per body, a byte per cell)."""
    _, overall = completion_rates(statuses)
    figures = _row_figures(statuses, reported, on_time)
    counts = atoms.sums(figures.pop("counts"), np.uint8 if atoms.size.max() < 256 else np.uint16)
    return PeriodSummary(
        period=period,
        counts=counts,
        national=counts.sum(axis=0, dtype=np.int32),
        by_kind=_kind_totals(atoms, counts),
        overall=overall,
        kind_median=_kind_medians(stats_kind, overall),
        as_of=as_of,
        **{name: atoms.sums(values, _PER_ATOM[name]) for name, values in figures.items()},
    )


def _kind_totals(atoms: Atoms, counts: np.ndarray) -> dict[str, np.ndarray]:
    return {
        kind: counts[atoms.stats_kind == kind].sum(axis=0, dtype=np.int32)
        for kind in STATS_KINDS
        if (atoms.stats_kind == kind).any()
    }


def _kind_medians(stats_kind: np.ndarray, overall: np.ndarray) -> dict[str, float]:
    return {kind: float(np.median(overall[stats_kind == kind])) for kind in STATS_KINDS if (stats_kind == kind).any()}


def completion_rates(statuses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row × operation slot: MIC's completion rate (NaN where the body does not report the operation),
    and per row the overall rate (the mean over its operations; 0 for a body that reports none)."""
    grid = statuses.reshape(len(statuses), -1, N_STEPS)
    applies = grid[:, :, 0] != 0
    done = ((grid == DONE) | (grid == NOT_APPLICABLE)).sum(axis=2) / N_STEPS
    per_operation = np.where(applies, done, np.nan)
    n_applies = applies.sum(axis=1)
    overall = np.where(n_applies > 0, np.where(applies, done, 0).sum(axis=1) / np.maximum(n_applies, 1), 0.0)
    return per_operation, overall


@dataclass(frozen=True)
class RowChange:
    """One body's row of a period before and after new reports."""

    row: int
    old: np.ndarray  # (width,) statuses
    new: np.ndarray
    old_reported: bool
    new_reported: bool
    old_on_time: bool
    new_on_time: bool


def patched(
    summary: PeriodSummary, atoms: Atoms, stats_kind: np.ndarray, changes: list[RowChange], as_of: datetime | None
) -> PeriodSummary:
    """The summary after some bodies' rows changed: each row's old figures are subtracted and its new ones
    added at its atom (the same per-row figures summarize adds up), so a report costs its own rows."""
    counts, national = summary.counts.copy(), summary.national.copy()
    by_kind = {kind: totals.copy() for kind, totals in summary.by_kind.items()}
    per_atom = {name: getattr(summary, name).copy() for name in _PER_ATOM}
    overall = summary.overall.copy()
    for change in changes:
        atom = atoms.of_row[change.row]
        old, new = (
            _row_figures(row[None, :], np.array([reported]), np.array([on_time]))
            for row, reported, on_time in (
                (change.old, change.old_reported, change.old_on_time),
                (change.new, change.new_reported, change.new_on_time),
            )
        )
        delta = new["counts"][0].astype(np.int32) - old["counts"][0]
        counts[atom] = (counts[atom] + delta).astype(counts.dtype)
        national += delta
        by_kind[str(atoms.stats_kind[atom])] += delta
        for name, totals in per_atom.items():
            totals[atom] += new[name][0].astype(np.int32) - old[name][0]
        overall[change.row] = completion_rates(change.new[None, :])[1][0]
    return PeriodSummary(
        period=summary.period,
        counts=counts,
        national=national,
        by_kind=by_kind,
        overall=overall,
        kind_median=_kind_medians(stats_kind, overall),
        as_of=as_of,
        **per_atom,
    )
