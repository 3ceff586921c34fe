"""Waiting out a database outage: a store call is retried with backoff until it succeeds.

A language whose translation came back from Z.ai must not be thrown away (and paid for again)
because the database blinked while its result was being written. So every store call of a
running job goes through `Durable`: on `StoreUnavailable` it waits (0.2 s doubling to 5 s) and
tries again, for as long as it takes. Only cancellation ends the wait: the worker is stopping,
or the job lost its lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from service.errors import StoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Durable:
    def __init__(
        self,
        *,
        first: float = 0.2,
        longest: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self._first = first
        self._longest = longest
        self._sleep = sleep
        self._on_wait = on_wait

    async def __call__(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        delay = self._first
        waited = False
        while True:
            try:
                result = await op()
            except StoreUnavailable as exc:
                if not waited:
                    logger.warning(
                        "database unavailable; waiting", extra={"op": what, "error": str(exc)}
                    )
                waited = True
                self._on_wait()
                await self._sleep(delay)
                delay = min(self._longest, delay * 2)
                continue
            if waited:
                logger.info("database back", extra={"op": what})
            return result
