"""The report grid in memory: status codes, cell values, catalogs, and reading a body's state."""

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from pmo import caching
from pmo.models import Body, BodyPeriod, Operation, Step
from pmo.reports.schemas import Status

STATUS_CODES: dict[Status, int] = {"done": 1, "in_progress": 2, "not_started": 3, "not_applicable": 4}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
DONE, IN_PROGRESS, NOT_STARTED, NOT_APPLICABLE = 1, 2, 3, 4
N_STEPS = 40

# (status, planned_start, planned_end, actual_end, note) — periods as yyyymm integers
Value = tuple[int, int | None, int | None, int | None, str | None]
Key = tuple[int, int]  # (operation_id, step_id)
Position = int  # a cell's place in a grid: grid_position(key); what report code indexes cells by
DEFAULT_VALUE: Value = (NOT_STARTED, None, None, None, None)


@dataclass(eq=False)
class Catalog:
    """Operations and steps of the master data, indexed both ways."""

    operations: list[Operation]
    steps: list[Step]
    op_by_code: dict[str, Operation] = field(init=False)
    step_by_code: dict[str, Step] = field(init=False)
    op_by_id: dict[int, Operation] = field(init=False)
    step_by_id: dict[int, Step] = field(init=False)
    # plain values for the per-cell loops of a submission (ORM attribute access costs more than the work)
    op_ids: dict[str, int] = field(init=False)
    step_ids: dict[str, int] = field(init=False)
    step_order: list[int] = field(init=False)  # step ids in step order
    in_step_order: Callable[[bytes | bytearray], tuple[int, ...]] = field(init=False)  # an operation's 40 cells
    applicable: dict[bool, frozenset[int]] = field(init=False)  # for_prefecture → operation ids it reports
    # for_prefecture → code → the grid position of its first step, for the operations that kind reports
    first_position: dict[bool, dict[str, Position]] = field(init=False)
    step_offsets: dict[str, int] = field(init=False)  # step code → its offset from its operation's first step

    def __post_init__(self) -> None:
        self.op_by_code = {o.code: o for o in self.operations}
        self.step_by_code = {s.code: s for s in self.steps}
        self.op_by_id = {o.id: o for o in self.operations}
        self.step_by_id = {s.id: s for s in self.steps}
        self.op_ids = {o.code: o.id for o in self.operations}
        self.step_ids = {s.code: s.id for s in self.steps}
        self.step_order = [s.id for s in self.steps]
        self.in_step_order = itemgetter(*(step_id - 1 for step_id in self.step_order))
        self.applicable = {
            True: frozenset(o.id for o in self.operations if o.for_prefectures),
            False: frozenset(o.id for o in self.operations if o.for_municipalities),
        }
        self.first_position = {
            kind: {o.code: grid_position((o.id, 1)) for o in self.operations if o.id in ids}
            for kind, ids in self.applicable.items()
        }
        self.step_offsets = {s.code: s.id - 1 for s in self.steps}

    def operations_for(self, body: Body) -> list[Operation]:
        """The operations this kind of body reports, in order."""
        if body.kind == "prefecture":
            return [o for o in self.operations if o.for_prefectures]
        return [o for o in self.operations if o.for_municipalities]

    @lru_cache(maxsize=2)  # noqa: B019 (a catalog lives for CATALOG_SECONDS or one statistics cache generation)
    def template(self, for_prefecture: bool) -> bytes:
        """The status grid of a body that has not reported yet (see grid_template)."""
        grid = bytearray(N_STEPS * max(self.op_by_id))
        for op in self.operations:
            if op.for_prefectures if for_prefecture else op.for_municipalities:
                for step in self.steps:
                    grid[grid_position((op.id, step.id))] = NOT_STARTED
        return bytes(grid)

    def sort_key(self, position: Position) -> tuple[int, int]:
        """Orders cells by operation, then step, as the catalog orders them."""
        op_id, step_id = key_at(position)
        return (self.op_by_id[op_id].order, self.step_by_id[step_id].order)

    @lru_cache(maxsize=2)  # noqa: B019 (as template)
    def layout(self, for_prefecture: bool) -> list[tuple[int, str, str]]:
        """(grid position, operation code, step code) of every cell such a body reports, in order."""
        ops = [o for o in self.operations if (o.for_prefectures if for_prefecture else o.for_municipalities)]
        return [(grid_position((o.id, s.id)), o.code, s.code) for o in ops for s in self.steps]


CATALOG_SECONDS = 60.0
catalogs: caching.Cache[str, Catalog] = caching.Cache("catalog", max_entries=4, ttl=CATALOG_SECONDS)
for _table in ("operations", "steps"):
    caching.on_commit(_table, catalogs.clear)


def load_catalog(session: Session) -> Catalog:
    """Operations and steps in order. Master data changes only through `pmo seed`, so each database's are
    kept for CATALOG_SECONDS (labels a seed changes in another process show within that time)."""
    bind = session.get_bind()
    key = (bind if isinstance(bind, Engine) else bind.engine).url.render_as_string()
    hit = catalogs.get(key)
    if hit is not None:
        return hit
    catalog = Catalog(
        list(session.scalars(select(Operation).order_by(Operation.order))),
        list(session.scalars(select(Step).order_by(Step.order))),
    )
    for row in (*catalog.operations, *catalog.steps):
        session.expunge(row)  # shared by later sessions and threads: read-only, never expired
    return catalogs.put(key, catalog)


def first_out_of_order(statuses: bytes) -> tuple[int, int] | None:
    """out_of_order_steps(statuses)[0], or None, found by two byte searches."""
    not_started = statuses.find(NOT_STARTED)
    done = statuses.find(DONE, not_started) if not_started >= 0 else -1
    return (done, not_started) if done >= 0 else None


def out_of_order_steps(statuses: list[int]) -> list[tuple[int, int]]:
    """(done step index, earlier not-started step index) pairs, one per out-of-order done step."""
    found = []
    first_not_started = None
    for i, status in enumerate(statuses):
        if status == NOT_STARTED and first_not_started is None:
            first_not_started = i
        elif status == DONE and first_not_started is not None:
            found.append((i, first_not_started))
    return found


def completed_through(statuses: list[int]) -> int | None:
    """Index of the last step of the leading run of done / not-applicable steps, or None."""
    last = None
    for i, status in enumerate(statuses):
        if status not in (DONE, NOT_APPLICABLE):
            break
        last = i
    return last


def grid_position(key: Key) -> int:
    """Byte offset of a cell in a status grid: operation-major, 40 steps each (ids are stable)."""
    return (key[0] - 1) * N_STEPS + (key[1] - 1)


def key_at(position: int) -> Key:
    """The cell at a grid position (the inverse of grid_position)."""
    return (position // N_STEPS + 1, position % N_STEPS + 1)


def grid_template(catalog: Catalog, body: Body) -> bytes:
    """A body's status grid before any report: not started where it reports, 0 where it does not."""
    return catalog.template(body.kind == "prefecture")


def encode_grid(template: bytes, statuses: dict[Key, int]) -> bytes:
    """The compressed status grid of template overridden by statuses."""
    grid = bytearray(template)
    for key, status in statuses.items():
        grid[grid_position(key)] = status
    return compress_grid(grid)


def compress_grid(grid: bytes | bytearray) -> bytes:
    """The stored form of a raw status grid."""
    return zlib.compress(bytes(grid), 6)


# The status grid of a body's newest period summary up to a period (also a subquery of history's standing).
NEWEST_SUMMARY = (
    select(BodyPeriod.statuses)
    .where(BodyPeriod.body_id == bindparam("body_id"), BodyPeriod.period <= bindparam("period"))
    .order_by(BodyPeriod.period.desc())
    .limit(1)
)


def grid_as_of(session: Session, catalog: Catalog, body: Body, period: int) -> bytes:
    """The body's raw status grid as of period, from its newest period summary (or its template)."""
    blob = session.connection().scalar(NEWEST_SUMMARY, {"body_id": body.id, "period": period})
    return grid_of_summary(blob, grid_template(catalog, body))


def grid_of_summary(blob: bytes | None, template: bytes) -> bytes:
    """The raw status grid of a stored period summary, widened to the template (the template without one)."""
    if blob is None:
        return template
    grid = decode_grid(blob)
    return grid + template[len(grid) :] if len(grid) < len(template) else grid


def decode_grid(blob: bytes) -> bytes:
    """The raw status grid of a stored blob."""
    return zlib.decompress(blob)
