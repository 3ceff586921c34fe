"""Budgets of calls: at most N calls in any window of P seconds, shared by every job of a worker.

Truto allows 50 requests per 10 s per integrated account and 500 per 10 s per API token, and
answers more with 429 and `Retry-After: 10`. A `Budget` combines the windows one call spends
from (its account's and the token's): a call goes out only when every window has room, and its
time is recorded in all of them at once, so the windows count calls as they are sent.

Written here rather than taken from a library, on purpose:
- aiolimiter is a leaky bucket: with a capacity of 50 draining 5 per second it lets up to ~100
  calls through in one 10-s window (a full burst, then the drip), which Truto would refuse; sized
  to stay under (capacity 1, one call per 0.2 s) it forbids the burst Truto does allow.
- pyrate-limiter has sliding windows, but its Limiter runs a leak thread with threading locks,
  counts in integer milliseconds of a clock we cannot inject, and cannot pause for a
  `Retry-After` the server sent.
What is needed is small: a sliding-window log (a deque of send times), a pause that every waiter
honours (after a 429, the whole account waits out `Retry-After` instead of each call discovering
it), FIFO order, and an injectable clock and sleep for deterministic tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

Sleep = Callable[[float], Awaitable[None]]

# Our clock reads a call's time when it is sent; the server's when it arrives. Jitter between
# the two can put one call more in the server's window than in ours, so windows are this much
# longer than the server's.
MARGIN_SECONDS = 0.25


class Window:
    """At most `limit` calls in any `period` seconds (plus MARGIN_SECONDS), and pauses."""

    def __init__(self, limit: int, period: float, *, margin: float = MARGIN_SECONDS) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period + margin
        self._sent: deque[float] = deque()
        self._resume_at = 0.0

    def wait(self, now: float) -> float:
        """Seconds until a call may go out (0: now)."""
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()
        wait = self._resume_at - now
        if len(self._sent) >= self.limit:
            wait = max(wait, self._sent[0] + self.period - now)
        return max(wait, 0.0)

    def record(self, now: float) -> None:
        self._sent.append(now)

    def pause(self, now: float, seconds: float) -> None:
        """No call before `now + seconds` (the server said so with Retry-After)."""
        self._resume_at = max(self._resume_at, now + seconds)

    def used(self, now: float) -> int:
        """Calls in the current window."""
        self.wait(now)
        return len(self._sent)


class Budget:
    """The windows a call spends from; `acquire` waits, in arrival order, until all have room."""

    def __init__(
        self,
        windows: Sequence[Window],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.windows = tuple(windows)
        self._clock = clock
        self._sleep = sleep
        self._fifo: asyncio.Lock | None = None
        self.waited = 0.0  # seconds spent waiting, for metrics and tests

    async def acquire(self) -> None:
        if self._fifo is None:
            self._fifo = asyncio.Lock()
        async with self._fifo:
            while True:
                now = self._clock()
                wait = max(w.wait(now) for w in self.windows)
                if wait <= 0:
                    for window in self.windows:
                        window.record(now)
                    return
                self.waited += wait
                await self._sleep(wait)

    def pause(self, window: Window, seconds: float) -> None:
        window.pause(self._clock(), seconds)
