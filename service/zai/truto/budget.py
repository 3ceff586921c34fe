"""Budgets of calls: at most N calls in any window of P seconds, shared by every job of a worker.

Truto allows 50 requests per 10 s per integrated account and 500 per 10 s per API token, and
answers more with 429 and `Retry-After: 10`. A `Budget` combines the windows one call spends
from (its account's and the token's): a call starts only when every window has room.

A call counts from the moment it starts until `period` after it ended (answer or failure).
Truto counts a call when it arrives, which is after we start it and before its answer is
back, so a call we no longer count is outside Truto's window too: the limit holds however long
a call waits in our event loop, the network or the server. Counting from the start alone does
not: under load, a burst started at once arrives spread over a second or two, and the next
burst, started exactly one period later, arrives inside Truto's window (measured: five 429s
in a 300-request burst; none since). The price: a slot is busy for period + the call's
duration, so calls lasting seconds get a little less than the full rate.

Written here rather than taken from a library, on purpose:
- aiolimiter is a leaky bucket: with a capacity of 50 draining 5 per second it lets up to ~100
  calls through in one 10-s window (a full burst, then the drip), which Truto would refuse; sized
  to stay under (capacity 1, one call per 0.2 s) it forbids the burst Truto does allow.
- pyrate-limiter has sliding windows, but counts an item when it is acquired (no notion of a
  call in flight), runs a leak thread with threading locks, counts in integer milliseconds of a
  clock we cannot inject, and cannot pause for a `Retry-After` the server sent.
What is needed is small: a sliding-window log (a deque of end times and a count of calls in
flight), a pause that every waiter honours (after a 429, the whole account waits out
`Retry-After` instead of each call discovering it), FIFO order, and an injectable clock and
sleep for deterministic tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

Sleep = Callable[[float], Awaitable[None]]

# Windows are this much longer than the server's, for clocks that tick differently.
MARGIN_SECONDS = 0.25
# How often the head of the queue looks again when every slot is taken by calls in flight.
POLL_SECONDS = 0.05


class Window:
    """At most `limit` calls in flight or ended within the last `period` (+ margin) seconds."""

    def __init__(self, limit: int, period: float, *, margin: float = MARGIN_SECONDS) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period + margin
        self.in_flight = 0
        self._ended: deque[float] = deque()
        self._resume_at = 0.0

    def wait(self, now: float) -> float | None:
        """Seconds until a call may start (0: now); None: every slot is a call in flight."""
        while self._ended and self._ended[0] <= now - self.period:
            self._ended.popleft()
        pause = max(self._resume_at - now, 0.0)
        if len(self._ended) + self.in_flight < self.limit:
            return pause
        if not self._ended:
            return None
        return max(pause, self._ended[0] + self.period - now)

    def start(self) -> None:
        self.in_flight += 1

    def end(self, now: float) -> None:
        self.in_flight -= 1
        self._ended.append(now)

    def pause(self, now: float, seconds: float) -> None:
        """No call before `now + seconds` (the server said so with Retry-After)."""
        self._resume_at = max(self._resume_at, now + seconds)

    def used(self, now: float) -> int:
        """Calls in flight or in the current window."""
        self.wait(now)
        return len(self._ended) + self.in_flight


class Budget:
    """The windows a call spends from; `spend()` waits, in arrival order, until all have room,
    and holds the slot for the call's duration."""

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

    @asynccontextmanager
    async def spend(self) -> AsyncIterator[None]:
        """`async with budget.spend(): <one call>`."""
        await self._acquire()
        try:
            yield
        finally:
            now = self._clock()
            for window in self.windows:
                window.end(now)

    async def _acquire(self) -> None:
        if self._fifo is None:
            self._fifo = asyncio.Lock()
        async with self._fifo:
            while True:
                waits = [w.wait(self._clock()) for w in self.windows]
                if all(wait == 0 for wait in waits):
                    for window in self.windows:
                        window.start()
                    return
                wait = max((w for w in waits if w is not None), default=0.0) or POLL_SECONDS
                self.waited += wait
                await self._sleep(wait)

    def pause(self, window: Window, seconds: float) -> None:
        window.pause(self._clock(), seconds)
