"""PostgreSQL for the hot paths: asyncpg on a pool of its own, without SQLAlchemy in between.

asyncpg prepares each SQL text once per connection and reuses it (its statement cache); the
scripts' texts are constants, never lists of varying length (an array argument instead, `= ANY`),
so every execution after a connection's first is a cache hit. `fetch_each` and `many` send all
their rows in one round trip (asyncpg's `fetchmany` and `executemany` pipeline them).

The pool is opened on first use, so a worker starts while the database is still down; every
error that means "the database does not answer" is StoreUnavailable, as for SQLAlchemy's
engine (service.store.errors).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from service.errors import StoreUnavailable
from service.store.driver import Script, Statement, UniqueViolation

T = TypeVar("T")
# SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, starting).
_UNAVAILABLE_STATES = ("08", "57P")


class PostgresDialect:
    name = "postgresql"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    not_indexed = ""

    def any(self, column: str) -> str:
        return f"{column} = ANY(?)"

    def array(self, values: Sequence[Any]) -> Any:
        return list(values)

    def time(self, value: datetime) -> Any:
        return value

    def day(self, value: date) -> Any:
        return value

    def read_time(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]


class PostgresDatabase:
    dialect = PostgresDialect()

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self._dsn = dsn
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresDatabase:
        """From the SQLAlchemy URL (`postgresql+asyncpg://…`): the same server and database."""
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(dsn, **options)

    async def run(self, script: Script[T], *, transaction: bool = True) -> T:
        try:
            pool = await self._open()
            async with pool.acquire() as conn:
                if not transaction:
                    return await _drive(conn, script)
                async with conn.transaction():
                    return await _drive(conn, script)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc
            raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    low, high = self._sizes
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=low, max_size=high, timeout=10
                    )
        return self._pool


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    state = str(getattr(exc, "sqlstate", "") or "")
    return state.startswith(_UNAVAILABLE_STATES)


async def _drive(conn: asyncpg.Connection, script: Script[T]) -> T:
    try:
        statement = next(script)
        while True:
            statement = script.send(await _one(conn, statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def _one(conn: asyncpg.Connection, s: Statement) -> Any:
    sql = numbered(s.sql)
    if s.mode == "execute":
        return _count(await conn.execute(sql, *s.args))
    if s.mode == "fetch":
        return await conn.fetch(sql, *s.args)
    if s.mode == "many":
        await conn.executemany(sql, s.args)
        return None
    return await conn.fetchmany(sql, s.args)


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1`, `$2`, …; the scripts' SQL has no `?` elsewhere."""
    parts = sql.split("?")
    return "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], start=1)) + parts[-1]


def _count(status: str) -> int:
    """The row count of a command tag: `UPDATE 3`, `INSERT 0 1`, `DELETE 0`."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
