"""The outbox relay: sends unsent outbox rows to Kafka in id order, then marks them sent.

`kick()` after a commit sends without waiting for the next interval. Relays (one in every worker
and API process) claim a batch before sending, so no two send the same row; an idempotent
producer keeps each partition in order across retries.

The worker's job store hands its completions' rows over directly (`hand_over`), written already
claimed for this relay: they go out without a claim query. If sending them fails (a broker
outage), this relay keeps them and tries again each round; if it dies first, they stay claimed
until the claim expires, and then any relay's next claim picks them up (at least once: a row
sent by both is deduplicated by consumers on `ce_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence

import orjson
from aiokafka import AIOKafkaProducer

from service import tracing
from service.pipeline.ports import Outbox, PendingEvent

logger = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        make_producer: Callable[[], AIOKafkaProducer],
        *,
        interval: float = 2.0,
        batch: int = 100,
    ) -> None:
        self._outbox = outbox
        self._make_producer = make_producer
        self._interval = interval
        self._batch = batch
        self._wake = asyncio.Event()
        self._claim = True  # look for rows in the table on the next round
        self._handed: list[PendingEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._name = f"relay-{uuid.uuid4().hex[:12]}"

    @property
    def name(self) -> str:
        return self._name

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def kick(self) -> None:
        """Rows were committed that nobody handed over: claim and send them now."""
        self._claim = True
        self._wake.set()

    def hand_over(self, events: Sequence[PendingEvent]) -> None:
        """Committed rows already claimed for this relay: sent on its next round."""
        self._handed.extend(events)
        self._wake.set()

    async def stop(self, flush_timeout: float = 10.0) -> None:
        """Stop, sending what waits for at most `flush_timeout` seconds: with the broker or
        the database gone the flush could block for a minute, and what it leaves is sent by
        the next relay once its claim expires."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(flush_timeout):
                await self._send_handed()
                await self.relay_once()  # last chance for what the final requests wrote
        if self._producer:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(flush_timeout):
                    await self._producer.stop()

    async def _run(self) -> None:
        loop, claimed_at = asyncio.get_running_loop(), float("-inf")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if loop.time() - claimed_at >= self._interval:
                self._claim = True  # the periodic look: others' rows, expired claims
            try:
                await self._send_handed()
                if self._claim:
                    self._claim, claimed_at = False, loop.time()
                    while await self.relay_once() == self._batch:
                        pass  # a full batch: more may be waiting
            except Exception as exc:
                logger.warning("outbox relay failed; will retry", extra={"error": repr(exc)})

    async def _send_handed(self) -> None:
        while self._handed:
            rows = self._handed[: self._batch]
            await self._send(rows)  # kept while unsent: a broker outage delays, never drops
            del self._handed[: len(rows)]

    async def relay_once(self) -> int:
        """Claim a batch, send it, mark it sent. Returns how many rows were sent."""
        await self._ensure_producer()  # no claim while the broker cannot be reached
        await self._outbox.settle()  # rows this relay sent are marked before it claims again
        rows = await self._outbox.claim(self._name, self._batch)
        if rows:
            await self._send(rows)
        return len(rows)

    async def _send(self, rows: Sequence[PendingEvent]) -> None:
        producer = await self._ensure_producer()
        # Hand the whole batch to the producer, then wait for every acknowledgement: one
        # round trip per batch, and the idempotent producer keeps each partition in order.
        spans = [_publish_span(row) for row in rows]
        with tracing.finishing(spans):
            deliveries = [
                await producer.send(
                    row.topic,
                    row.body or orjson.dumps(row.payload),
                    key=row.key.encode() if row.key else None,
                    headers=[(k, v.encode()) for k, v in _headers(row, span).items()],
                )
                for row, span in zip(rows, spans, strict=True)
            ]
            for delivery in deliveries:
                await delivery
        await self._outbox.mark_sent([r.id for r in rows])

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._make_producer()
            try:
                await producer.start()
            except BaseException:
                # A producer that could not reach the broker still holds its client: close it,
                # or every failed round leaks one ("Unclosed AIOKafkaProducer").
                await producer.stop()
                raise
            self._producer = producer
        return self._producer


def _publish_span(row: PendingEvent) -> tracing.Span | None:
    """A `publish` span under the trace context the row was written with (none: no span)."""
    if "traceparent" not in row.headers:
        return None
    return tracing.start(
        "publish",
        parent=row.headers,
        kind=tracing.SpanKind.PRODUCER,
        attributes=lambda: {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": row.topic,
            "messaging.message.id": row.headers.get("ce_id", ""),
            "cloudevents.event_type": row.headers.get("ce_type", ""),
        },
    )


def _headers(row: PendingEvent, span: tracing.Span | None) -> dict[str, str]:
    """The row's headers; while tracing, `traceparent` names the publish span (same trace)."""
    return {**row.headers, **tracing.carrier_of(span)}
