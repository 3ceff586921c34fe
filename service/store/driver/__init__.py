"""The database driver of the worker's hot paths: whole transactions as scripts, no SQL builder.

The job store, the memory and the outbox run a few statements per job, thousands of times a
second; the API and everything else keep SQLAlchemy (`service.store.db`). Measured on the 2-core
dev VM (docs/benchmarks.md, "What a statement costs"): a three-statement transaction cost the
event loop 1.55 ms through SQLAlchemy Core on aiosqlite and 0.04 ms as one function run in a
thread of its own; 0.77 ms and 0.26 ms on PostgreSQL, through SQLAlchemy and asyncpg alone.

A transaction is a *script*: a generator that yields `Statement`s and is sent their results,
so one piece of code serves both databases. SQLite (`driver.sqlite`) drives it synchronously in
its own thread, one hop for the whole transaction; PostgreSQL (`driver.postgres`) drives it over
an asyncpg connection, whose prepared statements are cached per connection (the SQL texts are
constants). SQL is written with `?` placeholders; `Dialect` supplies what differs.

    def rename(d: Dialect, job_id: str) -> Script[int]:
        count = yield execute("UPDATE job SET state = ? WHERE id = ?", "done", job_id)
        return count

    changed = await db.run(rename(db.dialect, "j1"))
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
Mode = Literal["execute", "fetch", "many", "fetch_each"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement and what the script gets back: `execute` the row count, `fetch` the rows,
    `many` nothing (the statement once per row of `args`), `fetch_each` every row the
    statement returned, over all rows of `args`, in order."""

    sql: str
    args: Sequence[Any]
    mode: Mode


Script = Generator[Statement, Any, T]
Row = Sequence[Any]


def execute(sql: str, *args: Any) -> Statement:
    return Statement(sql, args, "execute")


def fetch(sql: str, *args: Any) -> Statement:
    return Statement(sql, args, "fetch")


def many(sql: str, rows: Sequence[Sequence[Any]]) -> Statement:
    return Statement(sql, rows, "many")


def fetch_each(sql: str, rows: Sequence[Sequence[Any]]) -> Statement:
    return Statement(sql, rows, "fetch_each")


class UniqueViolation(Exception):
    """A unique constraint refused a write (the transaction was rolled back)."""


class Dialect(Protocol):
    """What differs between the two databases, for the scripts' SQL and arguments."""

    name: str
    #: appended to a SELECT that locks its rows (PostgreSQL); SQLite runs one writer at a time
    for_update: str
    skip_locked: str
    #: put before a column whose index must not drive a look-up by key: SQLite's planner took
    #: the (state, created_at) index for `id IN (…) AND (state = … OR …)` and read every
    #: queued job; its unary `+` keeps it on the key. Empty on PostgreSQL.
    not_indexed: str

    def any(self, column: str) -> str:
        """`column` is one of the values of one array argument (see `array`)."""
        ...

    def array(self, values: Sequence[Any]) -> Any: ...

    def time(self, value: datetime) -> Any:
        """A timezone-aware UTC time as the column stores it."""
        ...

    def day(self, value: date) -> Any: ...

    def read_time(self, value: Any) -> datetime: ...


class Database(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    async def run(self, script: Script[T], *, transaction: bool = True) -> T:
        """Run the script in one transaction (or, `transaction=False`, each statement on its
        own: for a single statement, or reads that need no common snapshot). Raises
        StoreUnavailable when the database does not answer, UniqueViolation on a duplicate."""
        ...

    async def close(self) -> None: ...


def script_of(statement: Statement) -> Script[Any]:
    """A script of one statement, returning its result."""
    return (yield statement)


def open_database(url: str, *, max_connections: int = 10) -> Database:
    """The hot-path database behind a SQLAlchemy URL (`sqlite+aiosqlite:///path` or
    `postgresql+asyncpg://...`), the one `DATABASE_URL` names. `max_connections` bounds the
    PostgreSQL pool; SQLite has one connection whatever it says."""
    if url.startswith("sqlite"):
        from service.store.driver.sqlite import SqliteDatabase

        return SqliteDatabase.from_url(url)
    from service.store.driver.postgres import PostgresDatabase

    return PostgresDatabase.from_url(url, max_size=max_connections)


__all__ = [
    "Database",
    "Dialect",
    "Row",
    "Script",
    "Statement",
    "UniqueViolation",
    "execute",
    "fetch",
    "fetch_each",
    "many",
    "open_database",
    "script_of",
]
