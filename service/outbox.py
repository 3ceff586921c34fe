"""Transactional outbox: events are rows written with the change they announce, then relayed to
Kafka by a background loop, so neither a crash nor a broker outage loses or invents an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.events import ce_headers
from service.store.tables import OutboxEvent, utcnow

logger = logging.getLogger(__name__)
# Longer than any send of one batch takes; a crashed relay's rows are sent again after it.
CLAIM = timedelta(seconds=60)


def enqueue(
    session: AsyncSession,
    *,
    topic: str,
    key: str | None,
    payload: dict[str, Any],
    ce_type: str,
    ce_id: str,
    subject: str | None = None,
) -> None:
    """Add an event to the caller's transaction; it is sent only if that transaction commits."""
    headers = ce_headers(ce_type=ce_type, ce_id=ce_id, subject=subject)
    session.add(OutboxEvent(topic=topic, key=key, payload=payload, headers=headers))


class OutboxRelay:
    """Sends unsent outbox rows in id order; `kick()` after a commit sends without waiting."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bootstrap_servers: str,
        *,
        interval: float = 2.0,
        batch: int = 100,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._sessions = sessions
        self._bootstrap = bootstrap_servers
        self._interval = interval
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._client_kwargs = client_kwargs or {}
        self._name = f"relay-{uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def kick(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.relay_once()  # last chance for what the final requests wrote
        if self._producer:
            await self._producer.stop()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                while await self.relay_once() == self._batch:
                    pass  # a full batch: more may be waiting
            except Exception:
                logger.warning("outbox relay failed; will retry", exc_info=True)

    async def relay_once(self) -> int:
        """Claim a batch, send it, mark it sent. Returns how many rows were sent."""
        producer = await self._ensure_producer()
        rows = await self._claim()
        if not rows:
            return 0
        # Hand the whole batch to the producer, then wait for every acknowledgement: one
        # round trip per batch, and the idempotent producer keeps each partition in order.
        deliveries = [
            await producer.send(
                row.topic,
                json.dumps(row.payload).encode(),
                key=row.key.encode() if row.key else None,
                headers=[(k, v.encode()) for k, v in row.headers.items()],
            )
            for row in rows
        ]
        await asyncio.gather(*deliveries)
        async with self._sessions() as session:
            await session.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.id).in_([r.id for r in rows]))
                .values(sent_at=utcnow(), claimed_until=None)
            )
            await session.commit()
        return len(rows)

    async def _claim(self) -> list[OutboxEvent]:
        """The conditional UPDATE makes the claim exclusive on SQLite and PostgreSQL alike,
        and no lock is held while the batch is on its way to Kafka."""
        now = utcnow()
        free = col(OutboxEvent.sent_at).is_(None) & (
            col(OutboxEvent.claimed_until).is_(None) | (col(OutboxEvent.claimed_until) < now)
        )
        async with self._sessions() as session:
            ids = (
                await session.exec(
                    select(OutboxEvent.id)
                    .where(free)
                    .order_by(col(OutboxEvent.id))
                    .limit(self._batch)
                )
            ).all()
            if not ids:
                return []
            await session.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.id).in_(ids), free)
                .values(claimed_by=self._name, claimed_until=now + CLAIM)
            )
            await session.commit()
            mine = select(OutboxEvent).where(
                col(OutboxEvent.id).in_(ids),
                col(OutboxEvent.claimed_by) == self._name,
                col(OutboxEvent.sent_at).is_(None),
            )
            return list((await session.exec(mine.order_by(col(OutboxEvent.id)))).all())

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, enable_idempotence=True, **self._client_kwargs
            )
            await producer.start()
            self._producer = producer
        return self._producer
