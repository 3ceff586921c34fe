"""Transactional outbox: events are rows written with the change they announce, then relayed to
Kafka by a background loop, so neither a crash nor a broker outage loses or invents an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.events import ce_headers
from service.store.tables import OutboxEvent, utcnow

logger = logging.getLogger(__name__)


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
        producer = await self._ensure_producer()
        async with self._sessions() as session:
            query = (
                select(OutboxEvent)
                .where(col(OutboxEvent.sent_at).is_(None))
                .order_by(col(OutboxEvent.id))
                .limit(self._batch)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.exec(query)).all()
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
            now = utcnow()
            for row in rows:
                row.sent_at = now
            await session.commit()
            return len(rows)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, enable_idempotence=True, **self._client_kwargs
            )
            await producer.start()
            self._producer = producer
        return self._producer
