"""Driver errors that mean "the database does not answer", mapped once to StoreUnavailable.

asyncpg raises OSError subclasses on connect, and connection-class errors (wrapped by SQLAlchemy
as DBAPIError with `connection_invalidated`) when a server goes away mid-session or is still
starting; SQLAlchemy's pool raises its own TimeoutError; SQLite raises OperationalError for a
locked or unopenable file. Everything else (a constraint, a bug) propagates unchanged.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import exc as sa

from service.errors import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

# SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, starting).
_UNAVAILABLE_STATES = ("08", "57P")
# SQLite's (and drivers' untyped) words for a database that is busy or out of reach.
_TRANSIENT_WORDS = ("locked", "unable to open", "connection", "closed", "shutting down")


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, OSError | TimeoutError | sa.TimeoutError):
        return True
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa.InterfaceError):
            return True
        state = str(getattr(error.orig, "sqlstate", "") or "")
        if state.startswith(_UNAVAILABLE_STATES):
            return True
        text = str(error.orig).lower()
        return isinstance(error, sa.OperationalError) and any(w in text for w in _TRANSIENT_WORDS)
    return False


@contextlib.contextmanager
def unavailable_as_store_error() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if is_unavailable(error):
            raise StoreUnavailable(f"{type(error).__name__}: {error}"[:300]) from error
        raise


def store_call(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Decorates an adapter method: driver outage errors surface as StoreUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with unavailable_as_store_error():
            return await fn(*args, **kwargs)

    return wrapper


#: What the driver raises for a statement the database refused (the admin API's last line of
#: defence maps a refused value to 422: `refused_value`).
DatabaseError = sa.DBAPIError


def refused_value(error: sa.DBAPIError) -> str | None:
    """The SQLSTATE when the database refused a value (class 22, "data exception": a NUL, a
    number out of range, a string too long), else None."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        return sqlstate
    return None
