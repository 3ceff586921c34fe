"""Group commit: concurrent writes of the same kind share one transaction.

Sixty-four jobs finishing within a few milliseconds of each other would otherwise make 64
transactions (64 commits, 64 hops to SQLite's thread or round trips to PostgreSQL). A caller's
`submit` parks its item; a flusher takes what has gathered, after `window` seconds or as soon
as `max_items` are waiting, writes them in one transaction, and answers every caller with its
own result, or with the batch's exception. With no window, a flush starts at once and what
arrives while it is written goes with the next one: no wait when idle, bigger batches the
busier it gets. A caller returns only after the commit, so each write is as durable as if it
had been done alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        flush: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        window: float = 0.003,
        max_items: int = 64,
    ) -> None:
        self._flush = flush
        self._window = window
        self._max = max_items
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a cancelled caller's error is not "unretrieved"
        self._pending.append((item, future))
        if len(self._pending) >= self._max:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run(), name="group-commit")
        # A cancelled caller cancels only its own future: its item is still written (or not)
        # with its batch, which the flusher task writes for the others all the same.
        return await future

    async def _run(self) -> None:
        while self._pending:
            if self._window > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._window)
            else:  # only what arrives in this turn of the event loop joins
                await asyncio.sleep(0)
            self._full.clear()
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            await self._write(batch)

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
