"""The outbox relay against a real broker and both databases: nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from service.bootstrap import kafka_producer, outbox_relay
from service.config import Settings
from service.kafka.relay import OutboxRelay
from service.pipeline.contract.outcomes import OutboundEvent
from service.pipeline.ports import PendingEvent
from service.store.db import session_factory
from service.store.driver import Database, fetch_each, open_database
from service.store.outbox import (
    INSERT_RETURNING_ID,
    Marks,
    SqlOutbox,
    enqueue,
    headers_of,
    row_values,
)
from service.store.tables import OutboxEvent, utcnow
from service.store.writes import WriteBatch
from tests.support.worker import read

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def relay_of(
    db: Database, bootstrap: str, *, marks: Marks | None = None, **options: Any
) -> OutboxRelay:
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap)  # type: ignore[call-arg]
    outbox = SqlOutbox(db, marks=marks)
    return OutboxRelay(outbox, lambda: kafka_producer(settings), **options)


async def fill(engine: AsyncEngine, topic: str, n: int) -> None:
    async with session_factory(engine)() as s:
        for i in range(n):
            event = OutboundEvent(topic, "acme", {"n": i}, ce_type="test.event", ce_id=f"id-{i}")
            enqueue(s, event)
        await s.commit()


async def test_two_relays_send_every_event_exactly_once(
    engine: AsyncEngine, db: Database, kafka_bootstrap_servers: str
) -> None:
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    await fill(engine, topic, 300)
    sessions = session_factory(engine)
    relays = [relay_of(db, kafka_bootstrap_servers, batch=25) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> int:
        sent = 0
        while (n := await relay.relay_once()) > 0:
            sent += n
        return sent

    counts = await asyncio.gather(*(drain(r) for r in relays))
    for r in relays:
        await r.stop()
    assert sum(counts) == 300
    records = await read(kafka_bootstrap_servers, topic, 400, wait_s=5)
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert len(ids) == 300 and len(set(ids)) == 300
    async with sessions() as s:
        unsent = (await s.exec(select(OutboxEvent).where(col(OutboxEvent.sent_at).is_(None)))).all()
    assert unsent == []


async def test_a_dead_relays_claim_expires_and_its_rows_are_sent(
    engine: AsyncEngine, db: Database, kafka_bootstrap_servers: str
) -> None:
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    await fill(engine, topic, 3)
    sessions = session_factory(engine)
    async with sessions() as s:  # a relay claimed them and died before sending
        await s.exec(
            update(OutboxEvent).values(
                claimed_by="dead", claimed_until=utcnow() + timedelta(seconds=60)
            )
        )
        await s.commit()
    relay = relay_of(db, kafka_bootstrap_servers)
    assert await relay.relay_once() == 0  # still claimed: not ours to send
    async with sessions() as s:
        await s.exec(update(OutboxEvent).values(claimed_until=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert await relay.relay_once() == 3
    await relay.stop()
    assert len(await read(kafka_bootstrap_servers, topic, 3, wait_s=5)) == 3


async def test_the_oldest_unsent_row_is_reported_until_it_is_sent(
    engine: AsyncEngine, db: Database, kafka_bootstrap_servers: str
) -> None:
    outbox = SqlOutbox(db)
    assert await outbox.oldest_unsent() is None
    before = utcnow()
    await fill(engine, f"age-{uuid.uuid4().hex[:8]}", 3)
    oldest = await outbox.oldest_unsent()
    assert oldest is not None and before <= oldest <= utcnow()
    relay = relay_of(db, kafka_bootstrap_servers)
    assert await relay.relay_once() == 3
    await relay.stop()
    assert await outbox.oldest_unsent() is None


async def test_the_claim_lasts_as_configured(engine: AsyncEngine, db: Database) -> None:
    await fill(engine, "outbox-claim", 2)
    outbox = SqlOutbox(db, claim=timedelta(seconds=1))
    assert len(await outbox.claim("dead", 10)) == 2  # claimed, then the relay is killed
    assert await outbox.claim("alive", 10) == []
    await asyncio.sleep(1.2)
    assert [e.payload["n"] for e in await outbox.claim("alive", 10)] == [0, 1]


def test_the_relay_claims_for_outbox_claim_seconds(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, outbox_claim_seconds=7)  # type: ignore[call-arg]
    relay = outbox_relay(settings, open_database(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}"))
    assert relay._outbox._claim == timedelta(seconds=7)  # type: ignore[attr-defined]


async def claimed_for(db: Database, relay: str, events: list[OutboundEvent]) -> list[PendingEvent]:
    """Outbox rows written claimed for `relay`, as a worker's completions write them."""
    now, d = utcnow(), db.dialect
    headers = [headers_of(e, now) for e in events]
    rows = [
        row_values(d, e, h, now, claimed_by=relay) for e, h in zip(events, headers, strict=True)
    ]
    ids = await db.run(_insert(rows))
    return [
        PendingEvent(i[0], e.topic, e.key, e.payload, h)
        for i, e, h in zip(ids, events, headers, strict=True)
    ]


def _insert(rows: list[Any]) -> Any:
    return (yield fetch_each(INSERT_RETURNING_ID, rows))


async def unsent(engine: AsyncEngine) -> list[OutboxEvent]:
    async with session_factory(engine)() as s:
        return list(
            (await s.exec(select(OutboxEvent).where(col(OutboxEvent.sent_at).is_(None)))).all()
        )


async def test_handed_over_rows_are_sent_without_a_claim_and_no_one_else_takes_them(
    engine: AsyncEngine, db: Database, kafka_bootstrap_servers: str
) -> None:
    """A worker's completions are written claimed for its own relay and handed over after the
    commit: that relay sends them with no query to find them; another relay leaves them be.
    Their "sent" rides on the worker's next write transaction, or is written alone soon."""
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    writes = WriteBatch(db, lazy=0.2)
    mine = relay_of(db, kafka_bootstrap_servers, marks=writes)
    other = relay_of(db, kafka_bootstrap_servers)
    events = [OutboundEvent(topic, "acme", {"n": i}, ce_type="t", ce_id=f"h-{i}") for i in range(5)]
    pending = await claimed_for(db, mine.name, events)
    assert [p.payload["n"] for p in pending] == [0, 1, 2, 3, 4]
    assert await other.relay_once() == 0  # claimed for `mine`
    mine.start()
    mine.hand_over(pending)
    records = await read(kafka_bootstrap_servers, topic, 5, wait_s=10)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == [
        f"h-{i}" for i in range(5)
    ]
    for _ in range(100):  # marked by the write batch within its `lazy` seconds
        if not await unsent(engine):
            break
        await asyncio.sleep(0.05)
    assert await unsent(engine) == []
    await mine.stop()
    await other.stop()
    await writes.close()


async def test_marks_waiting_when_the_worker_stops_are_written(
    engine: AsyncEngine, db: Database
) -> None:
    writes = WriteBatch(db, lazy=60)
    events = [OutboundEvent("t", "acme", {"n": i}, ce_type="t", ce_id=f"s-{i}") for i in range(3)]
    pending = await claimed_for(db, "me", events)
    writes.mark_sent([p.id for p in pending])
    assert len(await unsent(engine)) == 3  # not yet: they wait for a flush
    await writes.close()
    assert await unsent(engine) == []
