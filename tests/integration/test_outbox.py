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
from service.pipeline.outcomes import OutboundEvent
from service.store.db import create_engine, session_factory
from service.store.outbox import SqlOutbox, claimed_rows, enqueue, outbox_row
from service.store.tables import OutboxEvent, utcnow
from tests.support.worker import read

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def relay_of(sessions: Any, bootstrap: str, **options: Any) -> OutboxRelay:
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap)  # type: ignore[call-arg]
    return OutboxRelay(SqlOutbox(sessions), lambda: kafka_producer(settings), **options)


async def fill(engine: AsyncEngine, topic: str, n: int) -> None:
    async with session_factory(engine)() as s:
        for i in range(n):
            event = OutboundEvent(topic, "acme", {"n": i}, ce_type="test.event", ce_id=f"id-{i}")
            enqueue(s, event)
        await s.commit()


async def test_two_relays_send_every_event_exactly_once(
    engine: AsyncEngine, kafka_bootstrap_servers: str
) -> None:
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    await fill(engine, topic, 300)
    sessions = session_factory(engine)
    relays = [relay_of(sessions, kafka_bootstrap_servers, batch=25) for _ in range(2)]

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
    engine: AsyncEngine, kafka_bootstrap_servers: str
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
    relay = relay_of(sessions, kafka_bootstrap_servers)
    assert await relay.relay_once() == 0  # still claimed: not ours to send
    async with sessions() as s:
        await s.exec(update(OutboxEvent).values(claimed_until=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert await relay.relay_once() == 3
    await relay.stop()
    assert len(await read(kafka_bootstrap_servers, topic, 3, wait_s=5)) == 3


async def test_the_oldest_unsent_row_is_reported_until_it_is_sent(
    engine: AsyncEngine, kafka_bootstrap_servers: str
) -> None:
    outbox = SqlOutbox(session_factory(engine))
    assert await outbox.oldest_unsent() is None
    before = utcnow()
    await fill(engine, f"age-{uuid.uuid4().hex[:8]}", 3)
    oldest = await outbox.oldest_unsent()
    assert oldest is not None and before <= oldest <= utcnow()
    relay = relay_of(session_factory(engine), kafka_bootstrap_servers)
    assert await relay.relay_once() == 3
    await relay.stop()
    assert await outbox.oldest_unsent() is None


async def test_the_claim_lasts_as_configured(engine: AsyncEngine) -> None:
    await fill(engine, "outbox-claim", 2)
    outbox = SqlOutbox(session_factory(engine), claim=timedelta(seconds=1))
    assert len(await outbox.claim("dead", 10)) == 2  # claimed, then the relay is killed
    assert await outbox.claim("alive", 10) == []
    await asyncio.sleep(1.2)
    assert [e.payload["n"] for e in await outbox.claim("alive", 10)] == [0, 1]


def test_the_relay_claims_for_outbox_claim_seconds(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, outbox_claim_seconds=7)  # type: ignore[call-arg]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    relay = outbox_relay(settings, session_factory(engine))
    assert relay._outbox._claim == timedelta(seconds=7)  # type: ignore[attr-defined]


async def test_handed_over_rows_are_sent_without_a_claim_and_no_one_else_takes_them(
    engine: AsyncEngine, kafka_bootstrap_servers: str
) -> None:
    """A worker's completions are written claimed for its own relay and handed over after the
    commit: that relay sends them with no query to find them; another relay leaves them be."""
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    sessions = session_factory(engine)
    mine, other = (relay_of(sessions, kafka_bootstrap_servers) for _ in range(2))
    now = utcnow()
    events = [OutboundEvent(topic, "acme", {"n": i}, ce_type="t", ce_id=f"h-{i}") for i in range(5)]
    async with engine.begin() as conn:
        rows = [outbox_row(e, now, claimed_by=mine.name) for e in events]
        pending = await claimed_rows(conn, rows)
    assert [p.payload["n"] for p in pending] == [0, 1, 2, 3, 4]
    assert await other.relay_once() == 0  # claimed for `mine`
    mine.start()
    mine.hand_over(pending)
    records = await read(kafka_bootstrap_servers, topic, 5, wait_s=10)
    await mine.stop()
    await other.stop()
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == [
        f"h-{i}" for i in range(5)
    ]
    async with sessions() as s:
        unsent = (await s.exec(select(OutboxEvent).where(col(OutboxEvent.sent_at).is_(None)))).all()
    assert unsent == []
