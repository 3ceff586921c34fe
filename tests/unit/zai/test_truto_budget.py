"""Budgets of calls: sliding windows counted to each call's end, shared pauses, FIFO, over a
fake clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from service.zai.truto import Budget, TrutoGateway, Window
from service.zai.truto.budget import MARGIN_SECONDS

from .fakes import FakeTime


class YieldingTime(FakeTime):
    """Fake time whose sleep also lets other tasks run (calls in flight can end)."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await asyncio.sleep(0)


def budget(fake_time: FakeTime, *windows: Window) -> Budget:
    return Budget(windows, clock=fake_time.clock, sleep=fake_time.sleep)


async def call(b: Budget, fake_time: FakeTime, duration: float = 0.0) -> float:
    """One call through the budget; returns when it started."""
    async with b.spend():
        started = fake_time.now
        fake_time.now += duration
    return started


async def test_a_full_window_waits_for_its_oldest_call(fake_time: FakeTime) -> None:
    b = budget(fake_time, Window(50, 10.0))
    start = fake_time.now
    for _ in range(50):
        await call(b, fake_time)
    assert fake_time.now == start  # a burst up to the limit goes at once
    await call(b, fake_time)
    assert fake_time.now - start == pytest.approx(10.0 + MARGIN_SECONDS)


async def test_a_call_counts_until_a_period_after_it_ended(fake_time: FakeTime) -> None:
    b = budget(fake_time, Window(2, 10.0, margin=0.0))
    start = fake_time.now
    await call(b, fake_time, duration=4.0)  # ends at +4
    await call(b, fake_time, duration=0.0)  # starts at +4, ends at +4
    third = await call(b, fake_time)
    assert third - start == pytest.approx(14.0)  # the first call ended at +4


async def test_never_more_than_the_limit_started_in_any_window(fake_time: FakeTime) -> None:
    window = Window(5, 10.0)
    b = budget(fake_time, window)
    started: list[float] = []
    for i in range(40):
        if i % 7 == 0:
            fake_time.now += 1.3  # irregular arrivals
        started.append(await call(b, fake_time, duration=0.2))
    for t in started:
        in_window = [s for s in started if t <= s < t + 10.0 + MARGIN_SECONDS]
        assert len(in_window) <= 5


async def test_calls_in_flight_hold_their_slots() -> None:
    clock = YieldingTime()
    b = Budget([Window(2, 10.0, margin=0.0)], clock=clock.clock, sleep=clock.sleep)
    release = asyncio.Event()
    started: list[float] = []

    async def held() -> None:
        async with b.spend():
            started.append(clock.now)
            await release.wait()

    holders = [asyncio.create_task(held()) for _ in range(2)]
    third = asyncio.create_task(call(b, clock))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(started) == 2 and not third.done()  # both slots are calls in flight
    begin = clock.now
    clock.now += 3.0
    release.set()
    await asyncio.gather(*holders)
    assert await third >= begin + 3.0 + 10.0  # a period after the holders ended


async def test_a_pause_holds_every_caller(fake_time: FakeTime) -> None:
    window = Window(50, 10.0)
    b = budget(fake_time, window)
    await call(b, fake_time)
    b.pause(window, 10.0)
    start = fake_time.now
    await call(b, fake_time)
    assert fake_time.now - start == pytest.approx(10.0)
    assert b.waited == pytest.approx(10.0)


async def test_waiters_go_in_arrival_order(fake_time: FakeTime) -> None:
    b = budget(fake_time, Window(1, 1.0, margin=0.0))
    order: list[int] = []

    async def one(i: int) -> None:
        async with b.spend():
            order.append(i)

    await asyncio.gather(*(one(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


def test_window_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Window(0, 10.0)
    with pytest.raises(ValueError):
        Window(5, 0)


@pytest.mark.parametrize(
    ("headers", "paused"),
    [
        ({"retry-after": "10", "ratelimit-limit": "50"}, "account"),
        ({"retry-after": "7", "ratelimit-limit": "500"}, "token"),
        ({}, "account"),  # unknown which: the account's, for Truto's documented 10 s
    ],
)
async def test_a_truto_429_pauses_the_window_it_names(
    fake_time: FakeTime, headers: dict[str, str], paused: str
) -> None:
    gateway = TrutoGateway(
        SecretStr("t"),
        "https://truto.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    account = gateway.budget("ia-1")
    other = gateway.budget("ia-2")
    gateway.rate_limited("ia-1", httpx.Headers(headers))
    seconds = float(headers.get("retry-after", 10))
    now = fake_time.now
    assert account.windows[0].wait(now) == (seconds if paused == "account" else 0)
    assert gateway.token_window.wait(now) == (seconds if paused == "token" else 0)
    # Another account waits only when the shared token window is paused.
    assert max(w.wait(now) or 0 for w in other.windows) == (seconds if paused == "token" else 0)
    await gateway.aclose()
