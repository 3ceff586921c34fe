"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any, cast

import orjson
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

#: What the admin API hands its store functions: one session per request (service/api/deps.py).
Session = AsyncSession
Sessions = async_sessionmaker[AsyncSession]
#: Where a read runs: a session's transaction, or a connection of one's own.
Db = AsyncSession | AsyncConnection


def _json(value: Any) -> str:
    # orjson: a few times faster than json.dumps for the job, outcome and outbox bodies.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("json_serializer", _json)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        # SQLite has one writer at a time, and its busy handler sleeps up to 100 ms between
        # retries: many connections contending for the lock crawl. One shared connection turns
        # that into an orderly async queue for the pool instead.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 120)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping (a round trip per checkout, ~10% of the worker's CPU); connections are
    # recycled instead, and a dropped one fails one transaction, which is retried.
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts and survives a process crash; only an OS crash or
    # power loss can drop the last commits. FULL would fsync every commit of every job.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine behind a session factory. Hot paths run Core statements on its connections
    (`engine.begin()`): an ORM session's own bookkeeping cost more CPU than their statements."""
    return cast(AsyncEngine, sessions.kw["bind"])


def reader(engine: AsyncEngine) -> AsyncEngine:
    """For a single read (a look-up, a count): on PostgreSQL in autocommit, without the BEGIN
    and ROLLBACK around it, half the round trips. On SQLite switching modes costs more CPU
    than it saves, so reads stay as they are."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


async def connection_of(db: AsyncSession | AsyncConnection) -> AsyncConnection:
    """The connection of a session (its transaction), or the connection itself."""
    return await db.connection() if isinstance(db, AsyncSession) else db


async def ping(engine: AsyncEngine) -> None:
    """One round trip; raises whatever the database (or the way to it) raises."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
