"""Transactional outbox, SQL side: events are rows written with the change they announce
(`enqueue`), then claimed and marked sent by the relay (`service.kafka.relay`), so neither a crash
nor a broker outage loses or invents an event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import tracing
from service.pipeline.events import ce_headers
from service.pipeline.outcomes import OutboundEvent
from service.pipeline.ports import PendingEvent
from service.store.errors import store_call
from service.store.tables import OutboxEvent, utcnow

# Longer than any send of one batch takes; a crashed relay's rows are sent again after it.
CLAIM = timedelta(seconds=60)


def enqueue(session: AsyncSession, event: OutboundEvent) -> None:
    """Add an event to the caller's transaction; it is sent only if that transaction commits.
    Without a trace context of its own it carries the current span's (an API request's)."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject)
    headers |= event.trace or tracing.outgoing({})
    session.add(
        OutboxEvent(topic=event.topic, key=event.key, payload=dict(event.payload), headers=headers)
    )


def outbox_row(event: OutboundEvent, now: datetime) -> dict[str, Any]:
    """The outbox row of an event, for a Core insert (ORM defaults do not apply there)."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject, now=now)
    headers |= event.trace  # traceparent: the CloudEvents distributed-tracing extension
    return {
        "topic": event.topic,
        "key": event.key,
        "payload": dict(event.payload),
        "headers": headers,
        "created_at": now,
    }


class SqlOutbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @store_call
    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        """The conditional UPDATE makes the claim exclusive on SQLite and PostgreSQL alike,
        and no lock is held while the batch is on its way to Kafka."""
        now = utcnow()
        free = col(OutboxEvent.sent_at).is_(None) & (
            col(OutboxEvent.claimed_until).is_(None) | (col(OutboxEvent.claimed_until) < now)
        )
        async with self._sessions() as s:
            query = select(OutboxEvent.id).where(free).order_by(col(OutboxEvent.id)).limit(limit)
            ids = (await s.exec(query)).all()
            if not ids:
                return []
            await s.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.id).in_(ids), free)
                .values(claimed_by=relay, claimed_until=now + CLAIM)
            )
            await s.commit()
            mine = select(OutboxEvent).where(
                col(OutboxEvent.id).in_(ids),
                col(OutboxEvent.claimed_by) == relay,
                col(OutboxEvent.sent_at).is_(None),
            )
            rows = (await s.exec(mine.order_by(col(OutboxEvent.id)))).all()
        return [PendingEvent(r.id or 0, r.topic, r.key, r.payload, r.headers) for r in rows]

    @store_call
    async def oldest_unsent(self) -> datetime | None:
        """When the oldest row still waiting for Kafka was written (None: nothing waits)."""
        query = select(func.min(OutboxEvent.created_at)).where(col(OutboxEvent.sent_at).is_(None))
        async with self._sessions() as s:
            return (await s.exec(query)).one()

    @store_call
    async def mark_sent(self, ids: Sequence[int]) -> None:
        async with self._sessions() as s:
            await s.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.id).in_(list(ids)))
                .values(sent_at=utcnow(), claimed_until=None)
            )
            await s.commit()
