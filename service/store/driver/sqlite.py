"""SQLite for the hot paths: one connection in a thread of its own, one hop per transaction.

A script runs start to finish in that thread (`sqlite3`, which lets go of the GIL while SQLite
works), so a transaction costs the event loop one hand-off instead of a thread round trip per
statement, fetch and commit (aiosqlite) and SQLAlchemy's building of each statement. Writes take
the write lock when they begin (BEGIN IMMEDIATE): two transactions of this process never wait
for each other, as they run one after the other, and one of another connection (the API's
SQLAlchemy engine, another worker) is waited for by SQLite's busy handler.

Values are stored as SQLAlchemy stores them on SQLite (service.store.tables), so both sides
read each other's rows: times as naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, JSON as text.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson

from service.errors import StoreUnavailable
from service.store.driver import Script, Statement, UniqueViolation

T = TypeVar("T")
_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DATETIME storage format on SQLite
# SQLite's words for a database that is busy or out of reach (not a constraint or a bug).
_UNAVAILABLE = ("locked", "unable to open", "disk i/o", "readonly database", "busy")


class SqliteDialect:
    name = "sqlite"
    for_update = ""
    skip_locked = ""
    not_indexed = "+"

    def any(self, column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    def array(self, values: Sequence[Any]) -> Any:
        return orjson.dumps(list(values)).decode()

    def time(self, value: datetime) -> Any:
        return value.astimezone(UTC).strftime(_TIME)

    def day(self, value: date) -> Any:
        return value.isoformat()

    def read_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


class SqliteDatabase:
    dialect = SqliteDialect()

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self._path = path
        self._busy_ms = int(busy_timeout * 1000)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-hot")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> SqliteDatabase:
        """`sqlite+aiosqlite:///relative.db` or `sqlite:////absolute.db`."""
        _, _, path = url.partition(":///")
        if not path or path.startswith(":memory:"):
            raise ValueError("the hot-path driver needs a SQLite file, not an in-memory database")
        return cls(path)

    async def run(self, script: Script[T], *, transaction: bool = True) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, self._run, script, transaction)
        except sqlite3.IntegrityError as exc:
            if "unique" in str(exc).lower():
                raise UniqueViolation(str(exc)) from exc
            raise
        except sqlite3.OperationalError as exc:
            if any(word in str(exc).lower() for word in _UNAVAILABLE):
                raise StoreUnavailable(f"OperationalError: {exc}"[:300]) from exc
            raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    # --- in the thread ---------------------------------------------------------------------

    def _run(self, script: Script[T], transaction: bool) -> T:
        conn = self._connection()
        if not transaction:  # each statement commits on its own
            return _drive(conn, script)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = _drive(conn, script)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return result

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Autocommit mode: the scripts' transactions are begun and ended here, explicitly.
            conn = sqlite3.connect(self._path, isolation_level=None, cached_statements=256)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")  # as service.store.db sets them
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _drive(conn: sqlite3.Connection, script: Script[T]) -> T:
    try:
        statement = next(script)
        while True:
            statement = script.send(_one(conn, statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _one(conn: sqlite3.Connection, s: Statement) -> Any:
    if s.mode == "execute":
        return conn.execute(s.sql, s.args).rowcount
    if s.mode == "fetch":
        return conn.execute(s.sql, s.args).fetchall()
    if s.mode == "many":
        conn.executemany(s.sql, s.args)
        return None
    rows: list[Any] = []
    for args in s.args:  # sqlite3's executemany returns no rows: one by one, still in C
        rows.extend(conn.execute(s.sql, args).fetchall())
    return rows
