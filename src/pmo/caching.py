"""Every in-process cache: named, bounded by entries and bytes (least recently used go first), expiring by
age or dropped by tag when the data they came from changes, and counted for /metrics.

Caches are per worker process. What keeps them honest across processes is the owner's job: a TTL where a
short staleness is acceptable (master data, the statistics principal), or a data version the owner asks the
database for (statistics, FAQ term counts). Writes made in this process invalidate at commit (see
`on_commit`), so a worker always reads its own writes."""

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Seconds = float | Callable[[], float]  # a value, or read when used (a setting a test or operator may change)


class Clock:
    """The time caches judge age by; tests move a fake one forward instead of sleeping."""

    now: Callable[[], float] = staticmethod(time.monotonic)


clock = Clock()


@dataclass(frozen=True)
class CacheStats:
    name: str
    entries: int
    bytes: int
    hits: int
    misses: int
    evictions: int
    oldest_age: float  # seconds since the oldest entry was stored (0 when empty)


@dataclass
class _Entry(Generic[V]):
    value: V
    size: int
    stored_at: float
    tag: object


class Cache(Generic[K, V]):
    """A thread-safe LRU map with an entry budget, an optional byte budget and an optional time to live.

    `tag` is what an entry depends on (e.g. the first period whose data it read), so that a change drops
    exactly the entries it made stale (`discard`)."""

    def __init__(
        self,
        name: str,
        *,
        max_entries: int,
        max_bytes: int | Callable[[], int] | None = None,
        ttl: Seconds | None = None,
        sizeof: Callable[[V], int] = sys.getsizeof,
    ) -> None:
        self.name = name
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._ttl = ttl
        self._sizeof = sizeof
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._bytes = self._hits = self._misses = self._evictions = 0
        REGISTRY[name] = self

    def get(self, key: K) -> V | None:
        """The value stored under key (and it becomes the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._ttl is not None and self._expired(entry):
                self._remove(key)
                entry = None
            if entry is None:
                self._misses += 1
                return None
            self._hits += 1
            self._entries.move_to_end(key)
            return entry.value

    def put(self, key: K, value: V, *, tag: object = None, size: int | None = None) -> V:
        """Store value (evicting the least recently used beyond the budgets); returns it. A value larger
        than the whole byte budget is not stored."""
        size = self._sizeof(value) if size is None else size
        with self._lock:
            if key in self._entries:
                self._remove(key)
            budget = _read(self._max_bytes)
            if budget is not None and size > budget:
                return value
            self._entries[key] = _Entry(value, size, clock.now(), tag)
            self._bytes += size
            while len(self._entries) > self._max_entries or (budget is not None and self._bytes > budget):
                self._remove(next(iter(self._entries)))
                self._evictions += 1
        return value

    def get_or_put(self, key: K, compute: Callable[[], V], *, tag: object = None) -> V:
        """The stored value, else compute() stored under key (computed outside the lock; two threads missing
        together both compute, the later store wins)."""
        hit = self.get(key)
        return hit if hit is not None else self.put(key, compute(), tag=tag)

    def discard(self, stale: Callable[[K, object], bool]) -> None:
        """Drop every entry for which stale(key, tag) holds."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if stale(k, e.tag)]:
                self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def keys(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._entries))

    def stats(self) -> CacheStats:
        with self._lock:
            oldest = min((e.stored_at for e in self._entries.values()), default=None)
            return CacheStats(
                self.name,
                len(self._entries),
                self._bytes,
                self._hits,
                self._misses,
                self._evictions,
                0.0 if oldest is None else clock.now() - oldest,
            )

    def _expired(self, entry: _Entry[V]) -> bool:
        ttl = _read(self._ttl)
        return ttl is not None and clock.now() - entry.stored_at >= ttl

    def _remove(self, key: K) -> None:
        self._bytes -= self._entries.pop(key).size


def deep_sizeof(value: object) -> int:
    """An estimate of the memory a value holds: containers, strings and arrays, counted recursively (for a
    byte budget over values of any shape; shared objects are counted once)."""
    seen: set[int] = set()
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        buffer = getattr(item, "nbytes", None)  # numpy arrays: their data, which getsizeof misses for views
        total += int(buffer) + 128 if isinstance(buffer, int) else sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__)
    return total


def _read(value: float | int | Callable[[], float] | Callable[[], int] | None) -> float | int | None:
    return value() if callable(value) else value


REGISTRY: dict[str, Cache] = {}


def clear_all() -> None:
    """Empty every cache (tests after wiping the database; the CLI after `pmo seed`)."""
    for cache in REGISTRY.values():
        cache.clear()
    for watch in WATCHES:
        watch.expire()


class DataVersion:
    """When a worker asks the database again whether the data behind a group of caches changed: at most
    every `interval` seconds, and at once after this process committed a change to one of `tables`."""

    def __init__(self, tables: set[str], interval: Seconds) -> None:
        self.tables = tables
        self._interval = interval
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        WATCHES.append(self)

    def recheck_due(self) -> bool:
        """Whether to ask now (and note that it is asked)."""
        now = clock.now()
        with self._lock:
            if not self._due(now):
                return False
            self._checked_at = now
            return True

    def due(self) -> bool:
        """Whether it is time to ask, without noting that it is asked (for a reader that will not ask itself)."""
        return self._due(clock.now())

    def _due(self, now: float) -> bool:
        checked = self._checked_at
        return checked is None or now - checked >= float(_read(self._interval) or 0)

    def expire(self) -> None:
        """Ask on next use."""
        with self._lock:
            self._checked_at = None


WATCHES: list[DataVersion] = []
ON_COMMIT: dict[str, list[Callable[[], None]]] = {}  # table name → what a committed change to it invalidates


def on_commit(table: str, invalidate: Callable[[], None]) -> None:
    """Call invalidate after this process commits a transaction that wrote to table."""
    ON_COMMIT.setdefault(table, []).append(invalidate)


def note_write(session: Session, table: str) -> None:
    """Record a write the ORM does not see (Core statements on the session's connection)."""
    session.info.setdefault("written_tables", set()).add(table)


@event.listens_for(Session, "after_flush")
def _note_written_tables(session: Session, _flush_context: object) -> None:
    written = session.info.setdefault("written_tables", set())
    for row in (*session.new, *session.dirty, *session.deleted):
        written.add(row.__table__.name)


@event.listens_for(Session, "after_commit")
def _invalidate_written(session: Session) -> None:
    written = session.info.pop("written_tables", set())
    for table in written:
        for invalidate in ON_COMMIT.get(table, ()):
            invalidate()
    for watch in WATCHES:
        if watch.tables & written:
            watch.expire()


@event.listens_for(Session, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop("written_tables", None)
