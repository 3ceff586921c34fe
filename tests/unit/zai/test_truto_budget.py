"""Budgets of calls: sliding windows, shared pauses, FIFO, over a fake clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from service.zai.truto import Budget, TrutoGateway, Window
from service.zai.truto.budget import MARGIN_SECONDS

from .fakes import FakeTime


def budget(fake_time: FakeTime, *windows: Window) -> Budget:
    return Budget(windows, clock=fake_time.clock, sleep=fake_time.sleep)


async def test_a_full_window_waits_for_its_oldest_call(fake_time: FakeTime) -> None:
    b = budget(fake_time, Window(50, 10.0))
    start = fake_time.now
    for _ in range(50):
        await b.acquire()
    assert fake_time.now == start  # a burst up to the limit goes at once
    await b.acquire()
    assert fake_time.now - start == pytest.approx(10.0 + MARGIN_SECONDS)


async def test_never_more_than_the_limit_in_any_window(fake_time: FakeTime) -> None:
    window = Window(5, 10.0)
    b = budget(fake_time, window)
    sent: list[float] = []
    for i in range(40):
        if i % 7 == 0:
            fake_time.now += 1.3  # irregular arrivals
        await b.acquire()
        sent.append(fake_time.now)
    for t in sent:
        in_window = [s for s in sent if t <= s < t + 10.0 + MARGIN_SECONDS]
        assert len(in_window) <= 5


async def test_a_pause_holds_every_caller(fake_time: FakeTime) -> None:
    window = Window(50, 10.0)
    b = budget(fake_time, window)
    await b.acquire()
    b.pause(window, 10.0)
    start = fake_time.now
    await b.acquire()
    assert fake_time.now - start == pytest.approx(10.0)
    assert b.waited == pytest.approx(10.0)


async def test_waiters_go_in_arrival_order(fake_time: FakeTime) -> None:
    b = budget(fake_time, Window(1, 1.0, margin=0.0))
    order: list[int] = []

    async def call(i: int) -> None:
        await b.acquire()
        order.append(i)

    await asyncio.gather(*(call(i) for i in range(5)))
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
    assert max(w.wait(now) for w in other.windows) == (seconds if paused == "token" else 0)
    await gateway.aclose()
