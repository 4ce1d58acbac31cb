"""packed cells: revision_cells (one row per revision) and body_cells (one row per body) replace
cell_versions and cells (one row per cell); existing history is converted both ways

Revision ID: 0008
Revises: 0007
"""

import struct
import sys
import zlib
from array import array
from collections import defaultdict

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The packed layout as this migration wrote it (version 1 of pmo.reports.cellgrid), frozen here so the
# migration keeps meaning the same whatever the application's codec becomes.
_HEADER = struct.Struct("<BH")
_CELL_COLUMNS = (
    "body_id",
    "operation_id",
    "step_id",
    "period",
    "revision_id",
    "status",
    "planned_start",
    "planned_end",
    "actual_end",
    "note",
)
_BATCH = 2000


def _pack_changes(rows: list[tuple]) -> bytes:
    """rows: (position, status, planned_start, planned_end, actual_end, note)."""
    parts = [_HEADER.pack(1, len(rows)), array("H", [r[0] for r in rows]).tobytes(), bytes(r[1] for r in rows)]
    parts += [array("i", [r[i] or 0 for r in rows]).tobytes() for i in (2, 3, 4)]
    notes = [[i, r[5]] for i, r in enumerate(rows) if r[5]]
    if notes:
        parts.append(orjson.dumps(notes))
    return zlib.compress(b"".join(parts), 1)


def _unpack_changes(blob: bytes) -> list[tuple]:
    raw = memoryview(zlib.decompress(blob))
    _, n = _HEADER.unpack_from(raw)
    raw = raw[_HEADER.size :]
    positions = array("H", raw[: 2 * n].tobytes())
    statuses = raw[2 * n : 3 * n]
    months = [array("i", raw[3 * n + 4 * n * i : 3 * n + 4 * n * (i + 1)].tobytes()) for i in range(3)]
    notes = dict(orjson.loads(raw[15 * n :])) if len(raw) > 15 * n else {}
    return [
        (p, statuses[i], months[0][i] or None, months[1][i] or None, months[2][i] or None, notes.get(i))
        for i, p in enumerate(positions)
    ]


def _pack_grid(statuses: bytearray, columns: list[array], notes: dict[int, str]) -> bytes:
    parts = [_HEADER.pack(1, len(statuses)), bytes(statuses), *(c.tobytes() for c in columns)]
    if notes:
        parts.append(orjson.dumps(sorted(notes.items())))
    return zlib.compress(b"".join(parts), 1)


def _templates(conn) -> tuple[dict[int, bytes], int]:
    """Each body's status grid before any report (3 where it reports an operation, 0 elsewhere)."""
    operations = conn.execute(sa.text("SELECT id, for_municipalities, for_prefectures FROM operations")).all()
    width = 40 * max((o.id for o in operations), default=0)
    by_kind = {}
    for prefecture in (False, True):
        grid = bytearray(width)
        for o in operations:
            if o.for_prefectures if prefecture else o.for_municipalities:
                grid[(o.id - 1) * 40 : o.id * 40] = b"\x03" * 40
        by_kind[prefecture] = bytes(grid)
    return {b.id: by_kind[b.kind == "prefecture"] for b in conn.execute(sa.text("SELECT id, kind FROM bodies"))}, width


def _create_packed_tables() -> None:
    op.create_table(
        "revision_cells",
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column(
            "cells", sa.LargeBinary(), nullable=False, comment="packed changes: positions, statuses, months, notes"
        ),
        sa.ForeignKeyConstraint(["body_id"], ["bodies.id"], name=op.f("fk_revision_cells_body_id_bodies")),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["report_revisions.id"], name=op.f("fk_revision_cells_revision_id_report_revisions")
        ),
        sa.PrimaryKeyConstraint("body_id", "period", "revision_id", name=op.f("pk_revision_cells")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "body_cells",
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False, comment="the newest revision applied"),
        sa.Column(
            "cells", sa.LargeBinary(), nullable=False, comment="packed grid: statuses, months, notes, last change"
        ),
        sa.ForeignKeyConstraint(["body_id"], ["bodies.id"], name=op.f("fk_body_cells_body_id_bodies")),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["report_revisions.id"], name=op.f("fk_body_cells_revision_id_report_revisions")
        ),
        sa.PrimaryKeyConstraint("body_id", name=op.f("pk_body_cells")),
    )


def _create_cell_tables() -> None:
    for name in ("cell_versions", "cells"):
        key = ["body_id", "operation_id", "step_id"] + (["period", "revision_id"] if name == "cell_versions" else [])
        op.create_table(
            name,
            sa.Column("body_id", sa.Integer(), nullable=False),
            sa.Column("operation_id", sa.Integer(), nullable=False),
            sa.Column("step_id", sa.Integer(), nullable=False),
            sa.Column("period", sa.Integer(), nullable=False),
            sa.Column("revision_id", sa.Integer(), nullable=False),
            sa.Column("status", sa.SmallInteger(), nullable=False),
            sa.Column("planned_start", sa.Integer(), nullable=True),
            sa.Column("planned_end", sa.Integer(), nullable=True),
            sa.Column("actual_end", sa.Integer(), nullable=True),
            sa.Column("note", sa.String(length=1000), nullable=True),
            sa.ForeignKeyConstraint(["body_id"], ["bodies.id"], name=op.f(f"fk_{name}_body_id_bodies")),
            sa.ForeignKeyConstraint(
                ["operation_id"], ["operations.id"], name=op.f(f"fk_{name}_operation_id_operations")
            ),
            sa.ForeignKeyConstraint(
                ["revision_id"], ["report_revisions.id"], name=op.f(f"fk_{name}_revision_id_report_revisions")
            ),
            sa.ForeignKeyConstraint(["step_id"], ["steps.id"], name=op.f(f"fk_{name}_step_id_steps")),
            sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")),
            sqlite_with_rowid=False,
        )
    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.create_index("ix_cells_operation_step", ["operation_id", "step_id"], unique=False)


def _insert(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join(f":{c}" for c in columns)
        conn.execute(
            sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"),  # noqa: S608 — our own table names
            [dict(zip(columns, r, strict=False)) for r in rows],
        )
        rows.clear()


def upgrade() -> None:
    if sys.byteorder != "little":
        raise RuntimeError("the packed layout is little-endian; convert on a little-endian machine")
    _create_packed_tables()
    conn = op.get_bind()
    templates, width = _templates(conn)
    versions = conn.execute(
        sa.text(
            "SELECT body_id, period, revision_id, operation_id, step_id, status, "
            "planned_start, planned_end, actual_end, note "
            "FROM cell_versions ORDER BY body_id, period, revision_id"
        )
    )
    pending: list[tuple] = []
    current: tuple | None = None
    changes: list[tuple] = []
    for row in versions:
        key = (row.body_id, row.period, row.revision_id)
        if key != current and changes:
            pending.append((*current, _pack_changes(changes)))
            changes = []
            if len(pending) >= _BATCH:
                _insert(conn, "revision_cells", ("body_id", "period", "revision_id", "cells"), pending)
        current = key
        changes.append(
            (
                (row.operation_id - 1) * 40 + row.step_id - 1,
                row.status,
                row.planned_start,
                row.planned_end,
                row.actual_end,
                row.note,
            )
        )
    if changes:
        pending.append((*current, _pack_changes(changes)))
    _insert(conn, "revision_cells", ("body_id", "period", "revision_id", "cells"), pending)

    cells = conn.execute(
        sa.text(
            "SELECT body_id, operation_id, step_id, period, revision_id, status, "
            "planned_start, planned_end, actual_end, note "
            "FROM cells ORDER BY body_id"
        )
    )
    by_body: dict[int, list] = defaultdict(list)
    for row in cells:
        by_body[row.body_id].append(row)
    for body_id, rows in by_body.items():
        statuses = bytearray(templates.get(body_id, bytes(width)))
        columns = [array("i", bytes(4 * len(statuses))) for _ in range(4)]
        notes = {}
        for r in rows:
            p = (r.operation_id - 1) * 40 + r.step_id - 1
            statuses[p] = r.status
            for column, value in zip(columns, (r.planned_start, r.planned_end, r.actual_end, r.period), strict=False):
                column[p] = value or 0
            if r.note:
                notes[p] = r.note
        pending.append((body_id, max(r.revision_id for r in rows), _pack_grid(statuses, columns, notes)))
        if len(pending) >= _BATCH:
            _insert(conn, "body_cells", ("body_id", "revision_id", "cells"), pending)
    _insert(conn, "body_cells", ("body_id", "revision_id", "cells"), pending)

    with op.batch_alter_table("cells", schema=None) as batch_op:
        batch_op.drop_index("ix_cells_operation_step")
    op.drop_table("cells")
    op.drop_table("cell_versions")


def downgrade() -> None:
    _create_cell_tables()
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT body_id, period, revision_id, cells FROM revision_cells ORDER BY body_id, period, revision_id")
    )
    versions: list[tuple] = []
    newest: dict[tuple[int, int, int], tuple] = {}
    for body_id, period, revision_id, blob in rows:
        for p, status, p_start, p_end, a_end, note in _unpack_changes(blob):
            row = (body_id, p // 40 + 1, p % 40 + 1, period, revision_id, status, p_start, p_end, a_end, note)
            versions.append(row)
            newest[row[:3]] = row
        if len(versions) >= _BATCH:
            _insert(conn, "cell_versions", _CELL_COLUMNS, versions)
    _insert(conn, "cell_versions", _CELL_COLUMNS, versions)
    latest = list(newest.values())
    for start in range(0, len(latest), _BATCH):
        _insert(conn, "cells", _CELL_COLUMNS, latest[start : start + _BATCH])
    op.drop_table("body_cells")
    op.drop_table("revision_cells")
