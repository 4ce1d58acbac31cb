"""Engines, the declarative Base, and the only ways to get a session."""

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar, cast

from sqlalchemy import (
    URL,
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    TypeDecorator,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from starlette.concurrency import run_in_threadpool

from pmo.config import get_settings
from pmo.writerturn import TurnTakingConnection, turn_for

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __table__: ClassVar[Table]  # every model maps one Table (DeclarativeBase allows any FromClause)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (moved forward by PMO_CLOCK_OFFSET_DAYS, for benchmarks)."""
    offset = get_settings().clock_offset_days
    return datetime.now(UTC) + timedelta(days=offset) if offset else datetime.now(UTC)


def utc_timestamp() -> float:
    """utcnow() as a POSIX timestamp, without making a datetime (a check on every cached answer)."""
    return time.time() + get_settings().clock_offset_days * 86_400


def _sqlite_pragmas(engine: Engine, *, read_only: bool, path: str | None) -> None:
    # pysqlite's own transaction handling is off so that we can BEGIN IMMEDIATE: a writer takes the
    # write lock up front and waits instead of failing later with "database is locked"; writers of a
    # file wait in turn (pmo.writerturn), not in SQLite's sleep-polling busy handler.
    turn = turn_for(path) if path and not read_only else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: TurnTakingConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.turn = turn
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if read_only:
            conn.exec_driver_sql("BEGIN")
        else:
            # build_engine makes every SQLite connection a TurnTakingConnection (its connect_args factory)
            cast(TurnTakingConnection, conn.connection.dbapi_connection).begin_immediate()


def build_engine(url: str | URL, *, read_only: bool = False) -> Engine:
    """An engine for url; read_only gives connections that refuse every write."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        path = url.database if url.database and url.database != ":memory:" else None
        if path:
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if read_only:
                url = url.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
        engine = create_engine(url, pool_pre_ping=False, connect_args={"factory": TurnTakingConnection})
        _sqlite_pragmas(engine, read_only=read_only, path=path)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if read_only:
        connect_args["options"] = "-c default_transaction_read_only=on"
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_timeout=10, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    # pool_pre_ping would cost a round trip on every checkout (two a request); a connection used within the
    # last second is alive, so only one that sat idle longer is pinged, and replaced if the server is gone
    # (a restart or failover while the service was quiet then costs no request an error).
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since > PING_AFTER_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:
                raise DisconnectionError() from exc  # the pool connects afresh


@lru_cache
def get_engine() -> Engine:
    """The read-write engine of the configured database."""
    return build_engine(get_settings().database_url)


@lru_cache
def get_read_engine() -> Engine:
    """An engine on the main database whose transactions cannot write (row-level reads)."""
    return build_engine(get_settings().database_url, read_only=True)


@lru_cache
def get_stats_engine() -> Engine:
    """An engine for statistics: PMO_STATS_DATABASE_URL (a SELECT-only role) or the read engine."""
    url = get_settings().stats_database_url
    return build_engine(url, read_only=True) if url else get_read_engine()


ENGINES = {"write": get_engine, "read": get_read_engine, "stats": get_stats_engine}


@lru_cache
def _session_factory(kind: str) -> sessionmaker[Session]:
    return sessionmaker(ENGINES[kind](), expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(read_only: bool = False, *, stats: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises (statistics sessions are read-only)."""
    with _session_factory("stats" if stats else "read" if read_only else "write")() as session:
        try:
            yield session
            if not (read_only or stats):
                session.commit()  # a read-only session just closes: its objects stay readable
        except BaseException:
            if not (read_only or stats):  # a read-only session closes without expiring what it loaded: the
                session.rollback()  # statistics cache keeps catalog objects loaded by a request that then failed
            raise


@lru_cache
def _lookup_factory() -> sessionmaker[Session]:
    engine = get_read_engine()
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextmanager
def lookup_scope() -> Iterator[Session]:
    """A read-only session for a lookup of one statement (a token, a body). On PostgreSQL it runs without a
    transaction around it, saving the BEGIN and ROLLBACK round trips, so its statements share no snapshot."""
    with _lookup_factory()() as session:
        yield session


async def _request_scope(kind: str) -> AsyncIterator[Session]:
    # FastAPI runs a plain generator dependency in a worker thread twice (enter and exit); creating a
    # session does no I/O, so it is made here and only its end (commit or close) goes to a thread.
    session = _session_factory(kind)()
    try:
        yield session
    except BaseException:
        # Rolled back here, on the loop, not in a thread: when an error response ends a request, this generator
        # may be closed only by the event loop's finaliser, whose awaits can be left unfinished, and an
        # unfinished rollback kept the SQLite writer's turn taken (every later write waited 30 s and failed).
        _finish(session, kind, False)
        raise
    if session.get_transaction() is None:  # never touched the database (a cached answer): closing does no I/O
        session.close()
    else:
        await run_in_threadpool(_finish, session, kind, True)


def _finish(session: Session, kind: str, ok: bool) -> None:
    """End a request's session: commit the read-write one if the request succeeded, roll back otherwise."""
    with session:
        if kind == "write":
            session.commit() if ok else session.rollback()


async def request_session() -> AsyncIterator[Session]:
    """FastAPI dependency: the request's one read-write transaction."""
    async for session in _request_scope("write"):
        yield session


async def read_session() -> AsyncIterator[Session]:
    """FastAPI dependency: the request's one read-only transaction."""
    async for session in _request_scope("read"):
        yield session


async def stats_session() -> AsyncIterator[Session]:
    """FastAPI dependency: a read-only transaction through the statistics role."""
    async for session in _request_scope("stats"):
        yield session


def reset_engines() -> None:
    """Forget cached engines and settings (tests and the CLI switch databases)."""
    for cached in (get_engine, get_read_engine, get_stats_engine):
        if cached.cache_info().currsize:
            cached().dispose()
        cached.cache_clear()
    _session_factory.cache_clear()
    _lookup_factory.cache_clear()
    get_settings.cache_clear()
