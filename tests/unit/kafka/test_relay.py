"""The outbox relay's own decisions, with fakes of the outbox and the producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from service.kafka.relay import OutboxRelay
from service.pipeline.ports import PendingEvent


class Outbox:
    """Marks are deferred, as the worker's write batch defers them, until `settle`."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.waiting: list[int] = []
        self.unsent: list[PendingEvent] = []  # rows a claim finds (sent or not)
        self.claimed: list[list[int]] = []

    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        rows = [e for e in self.unsent if e.id not in self.sent]
        self.claimed.append([e.id for e in rows])
        return rows

    async def mark_sent(self, ids: Sequence[int]) -> None:
        self.waiting.extend(ids)

    async def settle(self) -> None:
        self.sent.extend(self.waiting)
        self.waiting.clear()

    async def oldest_unsent(self) -> datetime | None:
        return None


class Producer:
    """Refuses to start while `down`; records what it sent."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world, self.stopped = world, False

    async def start(self) -> None:
        if self.world["down"]:
            raise KafkaConnectionError("Unable to bootstrap")

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, **kw: Any) -> Any:
        self.world["sent"].append(topic)

        async def delivered() -> None:
            return None

        return delivered()


def event(i: int) -> PendingEvent:
    return PendingEvent(i, "results", "acme", {"n": i}, {"ce_id": f"e{i}"})


async def test_handed_rows_wait_out_a_broker_outage_and_unstarted_producers_are_closed() -> None:
    world: dict[str, Any] = {"down": True, "sent": []}
    made: list[Producer] = []

    def make() -> Any:
        made.append(Producer(world))
        return made[-1]

    outbox = Outbox()
    relay = OutboxRelay(outbox, make)
    relay.hand_over([event(1), event(2)])
    for _ in range(2):  # two rounds while the broker is down
        with pytest.raises(KafkaConnectionError):
            await relay._send_handed()
    assert all(p.stopped for p in made) and len(made) == 2  # none left open
    world["down"] = False
    await relay._send_handed()
    await outbox.settle()
    assert world["sent"] == ["results", "results"] and outbox.sent == [1, 2]
    await relay._send_handed()  # nothing handed twice
    await outbox.settle()
    assert outbox.sent == [1, 2]


async def test_stop_gives_up_flushing_after_its_timeout() -> None:
    """With the broker unreachable a send can block for a minute; stopping must not."""

    class Stuck(Producer):
        async def send(self, topic: str, value: bytes, **kw: Any) -> Any:
            await asyncio.sleep(3600)

    world: dict[str, Any] = {"down": False, "sent": []}
    outbox = Outbox()
    relay = OutboxRelay(outbox, lambda: Stuck(world))  # type: ignore[arg-type,return-value]
    relay.hand_over([event(1)])
    started = asyncio.get_running_loop().time()
    await relay.stop(flush_timeout=0.2)
    assert asyncio.get_running_loop().time() - started < 5
    assert outbox.sent == []  # left for another relay once its claim expires


async def test_a_relay_marks_what_it_sent_before_it_claims_again() -> None:
    """Handed rows whose claim expired while the broker was down are also claimable: sent,
    but with their "sent" still deferred, a claim would find and send them a second time."""
    world: dict[str, Any] = {"down": False, "sent": []}
    outbox = Outbox()
    outbox.unsent = [event(1), event(2)]  # written claimed for the relay; the claim expired
    relay = OutboxRelay(outbox, lambda: Producer(world))  # type: ignore[arg-type,return-value]
    relay.hand_over([event(1), event(2)])
    await relay._send_handed()
    assert outbox.waiting == [1, 2]  # sent, marks deferred
    assert await relay.relay_once() == 0
    assert outbox.claimed == [[]] and world["sent"] == ["results", "results"]
