"""Transactional outbox, SQL side: events are rows written with the change they announce
(`enqueue`), then claimed and marked sent by the relay (`service.kafka.relay`), so neither a crash
nor a broker outage loses or invents an event.

A worker's job completions are written already claimed for the worker's own relay and handed
to it after the commit (`Handoff`): the relay sends them without a query to find them. If that
relay dies first, the claim expires like any other and another relay sends the rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service import tracing
from service.pipeline.events import ce_headers
from service.pipeline.outcomes import OutboundEvent
from service.pipeline.ports import PendingEvent
from service.store.db import engine_of
from service.store.errors import store_call
from service.store.tables import OutboxEvent, utcnow

# How long a relay's claim on a batch lasts (OUTBOX_CLAIM_SECONDS): a crashed relay's rows wait
# this long before another relay sends them; a send slower than this may be sent twice.
CLAIM = timedelta(seconds=60)


def enqueue(session: AsyncSession, event: OutboundEvent) -> None:
    """Add an event to the caller's transaction; it is sent only if that transaction commits.
    Without a trace context of its own it carries the current span's (an API request's)."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject)
    headers |= event.trace or tracing.outgoing({})
    session.add(
        OutboxEvent(topic=event.topic, key=event.key, payload=dict(event.payload), headers=headers)
    )


OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]


class Handoff(Protocol):
    """The worker's own relay: takes committed rows already claimed for it."""

    @property
    def name(self) -> str: ...

    def hand_over(self, events: Sequence[PendingEvent]) -> None: ...


def outbox_row(
    event: OutboundEvent,
    now: datetime,
    *,
    claimed_by: str | None = None,
    claim: timedelta = CLAIM,
) -> dict[str, Any]:
    """The outbox row of an event, for a Core insert (ORM defaults do not apply there);
    `claimed_by` writes it claimed for that relay, for `claim`."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject, now=now)
    headers |= event.trace  # traceparent: the CloudEvents distributed-tracing extension
    return {
        "topic": event.topic,
        "key": event.key,
        "payload": dict(event.payload),
        "headers": headers,
        "created_at": now,
        "claimed_by": claimed_by,
        "claimed_until": now + claim if claimed_by else None,
    }


async def claimed_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[PendingEvent]:
    """Insert rows (written claimed) and return them as the relay sends them, ids included."""
    statement = insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True)
    ids = (await conn.execute(statement, rows)).scalars().all()
    return [
        PendingEvent(i, r["topic"], r["key"], r["payload"], r["headers"])
        for i, r in zip(ids, rows, strict=True)
    ]


class SqlOutbox:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, claim: timedelta = CLAIM
    ) -> None:
        self._engine = engine_of(sessions)
        self._claim = claim

    @store_call
    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        """One conditional UPDATE … RETURNING: exclusive on SQLite and PostgreSQL alike (a
        row another relay claimed meanwhile no longer matches), and no lock is held while the
        batch is on its way to Kafka."""
        now = utcnow()
        oldest = select(OUTBOX.c.id).where(_free(now)).order_by(OUTBOX.c.id).limit(limit)
        claim = (
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(oldest.scalar_subquery()), _free(now))
            .values(claimed_by=relay, claimed_until=now + self._claim)
            .returning(*(OUTBOX.c[name] for name in ("id", "topic", "key", "payload", "headers")))
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(claim)).all()
        return sorted((PendingEvent(*row) for row in rows), key=lambda e: e.id)

    @store_call
    async def oldest_unsent(self) -> datetime | None:
        """When the oldest row still waiting for Kafka was written (None: nothing waits)."""
        query = select(func.min(OUTBOX.c.created_at)).where(OUTBOX.c.sent_at.is_(None))
        async with self._engine.connect() as conn:
            value: datetime | None = (await conn.execute(query)).scalar_one()
            return value

    @store_call
    async def mark_sent(self, ids: Sequence[int]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(list(ids)))
                .values(sent_at=utcnow(), claimed_until=None)
            )


def _free(now: datetime) -> ColumnElement[bool]:
    unclaimed = or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)
    return and_(OUTBOX.c.sent_at.is_(None), unclaimed)
