"""Transactional outbox, SQL side: events are rows written with the change they announce, then
claimed and marked sent by the relay (`service.kafka.relay`), so neither a crash nor a broker
outage loses or invents an event.

A worker's job completions are written already claimed for the worker's own relay and handed
to it after the commit (`Handoff`): the relay sends them without a query to find them. If that
relay dies first, the claim expires like any other and another relay sends the rows. In the
worker, the relay's "sent" rides on the next write transaction (`service.store.writes`); in
the API, where nothing else is written as often, `mark_sent` is a statement of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from service import tracing
from service.pipeline.contract.events import ce_headers
from service.pipeline.contract.outcomes import OutboundEvent
from service.pipeline.ports import PendingEvent
from service.store.driver import Database, Dialect, Script, execute, fetch, script_of
from service.store.tables import OutboxEvent, utcnow

# How long a relay's claim on a batch lasts (OUTBOX_CLAIM_SECONDS): a crashed relay's rows wait
# this long before another relay sends them; a send slower than this may be sent twice.
CLAIM = timedelta(seconds=60)

INSERT = (
    "INSERT INTO outbox_event (topic, key, payload, headers, created_at, claimed_by,"
    " claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
INSERT_RETURNING_ID = INSERT + " RETURNING id"


def enqueue(session: AsyncSession, event: OutboundEvent) -> None:
    """Add an event to the caller's transaction; it is sent only if that transaction commits.
    Without a trace context of its own it carries the current span's (an API request's)."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject)
    headers |= event.trace or tracing.outgoing({})
    session.add(
        OutboxEvent(topic=event.topic, key=event.key, payload=dict(event.payload), headers=headers)
    )


class Handoff(Protocol):
    """The worker's own relay: takes committed rows already claimed for it."""

    @property
    def name(self) -> str: ...

    def hand_over(self, events: Sequence[PendingEvent]) -> None: ...


class Marks(Protocol):
    """Where a relay's "sent" goes when it need not be a transaction of its own."""

    def mark_sent(self, ids: Sequence[int]) -> None: ...

    async def flush(self) -> None: ...


def headers_of(event: OutboundEvent, now: datetime) -> dict[str, str]:
    """CloudEvents headers, and the trace context (the CloudEvents distributed-tracing
    extension), fixed when the row is written."""
    headers = ce_headers(ce_type=event.ce_type, ce_id=event.ce_id, subject=event.subject, now=now)
    headers |= event.trace
    return headers


def row_values(
    d: Dialect,
    event: OutboundEvent,
    headers: dict[str, str],
    now: datetime,
    *,
    claimed_by: str | None = None,
    claim: timedelta = CLAIM,
) -> tuple[Any, ...]:
    """The arguments of `INSERT` for an event and its `headers_of`; `claimed_by` writes it
    claimed for that relay."""
    return (
        event.topic,
        event.key,
        _json(event.payload),
        _json(headers),
        d.time(now),
        claimed_by,
        d.time(now + claim) if claimed_by else None,
    )


def mark_sent_script(d: Dialect, ids: Sequence[int], now: datetime) -> Script[int]:
    count: int = yield execute(
        f"UPDATE outbox_event SET sent_at = ?, claimed_until = NULL WHERE {d.any('id')}",
        d.time(now),
        d.array(list(ids)),
    )
    return count


class SqlOutbox:
    """The Outbox port. With `marks` (the worker's write batch), `mark_sent` only queues the
    ids for the next write transaction; without, it is an UPDATE of its own."""

    def __init__(
        self, db: Database, *, claim: timedelta = CLAIM, marks: Marks | None = None
    ) -> None:
        self._db, self._claim, self._marks = db, claim, marks
        d = db.dialect
        free = "sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)"
        oldest = f"SELECT id FROM outbox_event WHERE {free} ORDER BY id LIMIT ?{d.skip_locked}"
        self._claim_sql = (
            f"UPDATE outbox_event SET claimed_by = ?, claimed_until = ? WHERE id IN ({oldest})"
            f" AND {free} RETURNING id, topic, key, payload, headers"
        )

    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        """One conditional UPDATE … RETURNING: exclusive on SQLite and PostgreSQL alike (a
        row another relay claimed meanwhile no longer matches, one another relay is claiming
        right now is skipped), and no lock is held while the batch is on its way to Kafka."""
        d, now = self._db.dialect, utcnow()
        t = d.time(now)
        statement = fetch(self._claim_sql, relay, d.time(now + self._claim), t, limit, t)
        rows = await self._db.run(script_of(statement), transaction=False)
        events = [
            PendingEvent(
                i, topic, key, orjson.loads(payload), orjson.loads(headers), payload.encode()
            )
            for i, topic, key, payload, headers in rows
        ]
        return sorted(events, key=lambda e: e.id)

    async def oldest_unsent(self) -> datetime | None:
        """When the oldest row still waiting for Kafka was written (None: nothing waits)."""
        statement = fetch("SELECT min(created_at) FROM outbox_event WHERE sent_at IS NULL")
        [(value,)] = await self._db.run(script_of(statement), transaction=False)
        return None if value is None else self._db.dialect.read_time(value)

    async def mark_sent(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        if self._marks is not None:
            self._marks.mark_sent(ids)
            return
        script = mark_sent_script(self._db.dialect, ids, utcnow())
        await self._db.run(script, transaction=False)

    async def settle(self) -> None:
        if self._marks is not None:
            await self._marks.flush()


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
