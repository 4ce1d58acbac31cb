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

import orjson

from pmo.reports.grid import Position, Value

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

    def apply(self, changes: dict[Position, Value], period: int) -> None:
        """Set the changed cells, as of period."""
        for p, (status, p_start, p_end, a_end, note) in changes.items():
            self.statuses[p] = status
            self.planned_start[p] = p_start or 0
            self.planned_end[p] = p_end or 0
            self.actual_end[p] = a_end or 0
            self.updated[p] = period
            if note:
                self.notes[p] = note
            else:
                self.notes.pop(p, None)

    def apply_packed(self, blob: bytes, period: int) -> None:
        """Set the cells of one revision's stored changes (apply(unpack_changes(blob)) without the tuples)."""
        positions, statuses, p_start, p_end, a_end, notes = _change_columns(blob)
        for i, p in enumerate(positions):
            self.statuses[p] = statuses[i]
            self.planned_start[p] = p_start[i]
            self.planned_end[p] = p_end[i]
            self.actual_end[p] = a_end[i]
            self.updated[p] = period
            note = notes.get(i)
            if note:
                self.notes[p] = note
            else:
                self.notes.pop(p, None)


def pack_changes(changes: dict[Position, Value]) -> bytes:
    """The stored form of one revision's changed cells."""
    values = list(changes.values())
    parts = [
        _HEADER.pack(_VERSION, len(values)),
        _column_bytes(array("H", changes)),
        bytes(v[0] for v in values),
        *(_column_bytes(array("i", [v[i] or 0 for v in values])) for i in (1, 2, 3)),
    ]
    notes = [[i, v[4]] for i, v in enumerate(values) if v[4]]
    if notes:
        parts.append(orjson.dumps(notes))
    return zlib.compress(b"".join(parts), _LEVEL)


def _change_columns(blob: bytes) -> tuple[array, memoryview, array, array, array, dict[int, str]]:
    raw, n = _open(blob)
    positions = _column("H", raw[: 2 * n])
    statuses = raw[2 * n : 3 * n]
    p_start, p_end, a_end = (_column("i", raw[3 * n + 4 * n * i : 3 * n + 4 * n * (i + 1)]) for i in range(3))
    notes_raw = raw[15 * n :]
    return positions, statuses, p_start, p_end, a_end, dict(orjson.loads(notes_raw)) if notes_raw else {}


def unpack_changes(blob: bytes) -> dict[Position, Value]:
    """One revision's changed cells, in the order they were stored."""
    positions, statuses, p_start, p_end, a_end, notes = _change_columns(blob)
    return {
        p: (statuses[i], p_start[i] or None, p_end[i] or None, a_end[i] or None, notes.get(i))
        for i, p in enumerate(positions)
    }
