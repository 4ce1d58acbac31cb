"""Packed cells, the stored form of report data: a body's whole grid as one dense blob (its current
state, one row per body) and a revision's changes as one sparse blob (its history, one row per
revision). A submission or a grid read touches one row instead of 800.

Layout before zlib, little-endian, version 1:
  grid:    B version, H width, width × B status, 4 × width × i (planned start, planned end, actual end,
           period of the last change; 0 = none), then the notes as JSON [[position, note], …]
  changes: B version, H n, n × H position, n × B status, 3 × n × i (planned start, planned end,
           actual end), then the notes as JSON
Positions are grid_position((operation id, step id)); periods are yyyymm integers."""

import struct
import sys
import zlib
from array import array

import numpy as np
import orjson

from pmo.reports.grid import DONE, Position, Value

_VERSION = 1
_HEADER = struct.Struct("<BH")
_LEVEL = 1  # fast: state blobs are rewritten on every submission; level 6 saves little on this data


def _column(typecode: str, raw: bytes | memoryview) -> array:
    column = array(typecode)
    column.frombytes(raw)
    if sys.byteorder == "big":
        column.byteswap()
    return column


def _column_bytes(column: array) -> bytes:
    if sys.byteorder == "big":
        column = array(column.typecode, column)
        column.byteswap()
    return column.tobytes()


def _open(blob: bytes) -> tuple[memoryview, int]:
    raw = memoryview(zlib.decompress(blob))
    version, count = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise ValueError(f"unknown packed cells version {version}")
    return raw[_HEADER.size :], count


class CellGrid:
    """Every cell of one body at some point in its history, as columns indexed by grid position."""

    __slots__ = ("actual_end", "notes", "planned_end", "planned_start", "statuses", "updated")

    def __init__(
        self,
        statuses: bytearray,
        planned_start: array,
        planned_end: array,
        actual_end: array,
        updated: array,
        notes: dict[int, str],
    ):
        self.statuses = statuses
        self.planned_start = planned_start
        self.planned_end = planned_end
        self.actual_end = actual_end
        self.updated = updated
        self.notes = notes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellGrid) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    @classmethod
    def blank(cls, template: bytes) -> "CellGrid":
        """A body that has reported nothing: the template's statuses (not started, 0 where it does not report)."""
        zeros = array("i", bytes(4 * len(template)))
        return cls(bytearray(template), zeros, array("i", zeros), array("i", zeros), array("i", zeros), {})

    @classmethod
    def unpack(cls, blob: bytes, template: bytes) -> "CellGrid":
        """The grid of a stored blob, widened to the template when operations were added since."""
        raw, width = _open(blob)
        columns = [_column("i", raw[width + 4 * width * i : width + 4 * width * (i + 1)]) for i in range(4)]
        notes_raw = raw[width + 16 * width :]
        planned_start, planned_end, actual_end, updated = columns
        notes = dict(orjson.loads(notes_raw)) if notes_raw else {}
        grid = cls(bytearray(raw[:width]), planned_start, planned_end, actual_end, updated, notes)
        if width < len(template):
            grid.statuses += template[width:]
            for column in columns:
                column.extend(array("i", bytes(4 * (len(template) - width))))
        return grid

    def pack(self) -> bytes:
        """The stored form."""
        parts = [_HEADER.pack(_VERSION, len(self.statuses)), bytes(self.statuses)]
        parts += [_column_bytes(c) for c in (self.planned_start, self.planned_end, self.actual_end, self.updated)]
        if self.notes:
            parts.append(orjson.dumps(sorted(self.notes.items())))
        return zlib.compress(b"".join(parts), _LEVEL)

    def value(self, p: Position) -> Value:
        """The cell's (status, planned start, planned end, actual end, note)."""
        return (
            self.statuses[p],
            self.planned_start[p] or None,
            self.planned_end[p] or None,
            self.actual_end[p] or None,
            self.notes.get(p),
        )

    def updated_period(self, p: Position) -> int | None:
        """The period of the cell's last change, None if it was never reported."""
        return self.updated[p] or None

    def apply(self, changes: "Changes", period: int) -> None:
        """Set the changed cells, as of period (whole columns at once: a full grid is 800 of them)."""
        if not changes:
            return
        at = changes.positions.astype(np.intp)
        np.frombuffer(self.statuses, np.uint8)[at] = changes.statuses
        for column, values in (
            (self.planned_start, changes.planned_start),
            (self.planned_end, changes.planned_end),
            (self.actual_end, changes.actual_end),
        ):
            np.frombuffer(column, np.int32)[at] = values
        np.frombuffer(self.updated, np.int32)[at] = period
        if self.notes:
            for p in self.notes.keys() & set(at.tolist()):
                del self.notes[p]
        for i, note in changes.notes.items():
            self.notes[int(at[i])] = note

    def status_changes(self, positions: list[Position], statuses: list[int]) -> "Changes":
        """The changes that set these cells to these statuses, keeping their other fields: a cell changes when
        its status does, or when a step no longer done drops its end month."""
        at = np.array(positions, np.intp)
        new = np.array(statuses, np.uint8)
        actual_end = np.frombuffer(self.actual_end, np.int32)[at]
        changed = (new != np.frombuffer(self.statuses, np.uint8)[at]) | ((new != DONE) & (actual_end != 0))
        at, new = at[changed], new[changed]
        notes = {}
        if self.notes:
            notes = {i: self.notes[p] for i, p in enumerate(at.tolist()) if p in self.notes}
        return Changes(
            at.astype(np.uint16),
            new,
            np.frombuffer(self.planned_start, np.int32)[at],
            np.frombuffer(self.planned_end, np.int32)[at],
            np.where(new == DONE, actual_end[changed], 0).astype(np.int32),
            notes,
        )


class Changes:
    """One revision's changed cells as columns, in the order they are stored: positions, statuses, the three
    months (0 = none) and the notes by index. What a submission writes and a replay applies."""

    __slots__ = ("actual_end", "notes", "planned_end", "planned_start", "positions", "statuses")

    def __init__(
        self,
        positions: np.ndarray,
        statuses: np.ndarray,
        planned_start: np.ndarray,
        planned_end: np.ndarray,
        actual_end: np.ndarray,
        notes: dict[int, str],
    ):
        self.positions, self.statuses, self.notes = positions, statuses, notes
        self.planned_start, self.planned_end, self.actual_end = planned_start, planned_end, actual_end

    def __len__(self) -> int:
        return len(self.positions)

    @classmethod
    def of(cls, values: dict[Position, Value]) -> "Changes":
        """The columns of changed cells given as values by position."""
        n = len(values)
        rows = list(zip(*values.values(), strict=True)) or [(), (), (), (), ()]
        planned_start, planned_end, actual_end = (np.array([m or 0 for m in column], np.int32) for column in rows[1:4])
        return cls(
            np.fromiter(values, np.uint16, n),
            np.array(rows[0], np.uint8),
            planned_start,
            planned_end,
            actual_end,
            {i: note for i, note in enumerate(rows[4]) if note},
        )

    @classmethod
    def unpack(cls, blob: bytes) -> "Changes":
        """The changes of one revision's stored form."""
        raw, n = _open(blob)
        planned_start, planned_end, actual_end = (
            np.frombuffer(raw, "<i4", n, 3 * n + 4 * n * i).astype(np.int32) for i in range(3)
        )
        notes_raw = raw[15 * n :]
        return cls(
            np.frombuffer(raw, "<u2", n).astype(np.uint16),
            np.frombuffer(raw, np.uint8, n, 2 * n).copy(),
            planned_start,
            planned_end,
            actual_end,
            dict(orjson.loads(notes_raw)) if notes_raw else {},
        )

    def pack(self) -> bytes:
        """The stored form."""
        parts = [
            _HEADER.pack(_VERSION, len(self)),
            self.positions.astype("<u2").tobytes(),
            self.statuses.tobytes(),
            *(column.astype("<i4").tobytes() for column in (self.planned_start, self.planned_end, self.actual_end)),
        ]
        if self.notes:
            parts.append(orjson.dumps(sorted(self.notes.items())))
        return zlib.compress(b"".join(parts), _LEVEL)

    def set_statuses(self, grid: bytearray) -> None:
        """Write the changed statuses into a raw status grid."""
        np.frombuffer(grid, np.uint8)[self.positions.astype(np.intp)] = self.statuses

    def operations(self, n_steps: int) -> set[int]:
        """The ids of the operations with a changed cell."""
        return set((self.positions // n_steps + 1).tolist())

    def values(self) -> dict[Position, Value]:
        """The changed cells as values by position."""
        columns = [c.tolist() for c in (self.statuses, self.planned_start, self.planned_end, self.actual_end)]
        return {
            p: (columns[0][i], columns[1][i] or None, columns[2][i] or None, columns[3][i] or None, self.notes.get(i))
            for i, p in enumerate(self.positions.tolist())
        }


def unpack_changes(blob: bytes) -> dict[Position, Value]:
    """One revision's changed cells, in the order they were stored."""
    return Changes.unpack(blob).values()
