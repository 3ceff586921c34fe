"""The Kafka intake: read request batches, make them durable jobs, then commit their offsets.

We drive aiokafka directly rather than through a FastStream subscriber: the inbox needs exact
per-partition commits after a database transaction, pausing on back-pressure while still
polling, and the consumer's positions for the lag metric (see docs/pipeline.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.metrics import Metrics
from service.outbox import enqueue
from service.pipeline import jobs
from service.pipeline.contracts import TYPE_DEAD_LETTER, TranslationRequestV1
from service.pipeline.events import dead_letter, dead_letter_id
from service.pipeline.intake import Rejection, decode_request

logger = logging.getLogger(__name__)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    # Every batch is committed before the next poll, so a revocation has nothing pending.
    def on_partitions_revoked(self, revoked: Any) -> None:
        logger.info("partitions revoked", extra={"partitions": sorted(str(tp) for tp in revoked)})

    def on_partitions_assigned(self, assigned: Any) -> None:
        logger.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})


class Intake:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        metrics: Metrics,
        *,
        on_accepted: Callable[[], None],
        on_outbox: Callable[[], None],
    ) -> None:
        self._s = settings
        self._sessions = sessions
        self._metrics = metrics
        self._on_accepted = on_accepted
        self._on_outbox = on_outbox
        self.consumer: AIOKafkaConsumer | None = None
        self._backlog = 0
        self._backlog_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        s = self._s
        consumer = self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.kafka_group_id,
            client_id="zai-l10n-worker",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.worker_batch_size,
            **s.kafka_client_kwargs(),
        )
        consumer.subscribe([s.topic_requests], listener=_Listener())
        await consumer.start()
        lag_task = asyncio.create_task(self._report_lag(consumer, stop))
        try:
            while not stop.is_set():
                await self._poll_once(consumer)
        finally:
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task
            await consumer.stop()

    async def _poll_once(self, consumer: AIOKafkaConsumer) -> None:
        if await self._backlog_full():
            consumer.pause(*consumer.assignment())  # keep polling (heartbeats, rebalances)
        else:
            consumer.resume(*consumer.paused())
        batch = await consumer.getmany(timeout_ms=300, max_records=self._s.worker_batch_size)
        records = [r for recs in batch.values() for r in recs]
        if not records:
            return
        await self._persist(records)
        await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batch.items()})
        self._on_accepted()
        self._on_outbox()

    async def _backlog_full(self) -> bool:
        now = time.monotonic()
        if now - self._backlog_at > 1.0:
            async with self._sessions() as s:
                self._backlog = await jobs.backlog(s)
            self._backlog_at = now
            self._metrics.backlog.set(self._backlog)
        return self._backlog >= self._s.worker_max_backlog

    async def _persist(self, records: list[ConsumerRecord]) -> None:
        """One transaction per batch; if a concurrent writer beat us to a job, one per record."""
        decoded = [(r, self._decode(r)) for r in records]
        try:
            async with self._sessions() as s:
                await self._accept_all(s, decoded)
                await s.commit()
        except IntegrityError:
            for item in decoded:
                async with self._sessions() as s:
                    await self._accept_all(s, [item])
                    with contextlib.suppress(IntegrityError):
                        await s.commit()
        self._backlog += len(records)

    def _decode(self, record: ConsumerRecord) -> TranslationRequestV1 | Rejection:
        self._metrics.consumed.inc()
        return decode_request(
            record.value or b"",
            max_bytes=self._s.request_max_bytes,
            max_chars=self._s.request_max_chars,
        )

    async def _accept_all(
        self, s: AsyncSession, items: list[tuple[ConsumerRecord, TranslationRequestV1 | Rejection]]
    ) -> None:
        inbox = jobs.Inbox(s)
        await inbox.prefetch([d for _, d in items if isinstance(d, TranslationRequestV1)])
        for record, decoded in items:
            if isinstance(decoded, Rejection):
                self._dead_letter(s, record, decoded)
                continue
            accepted = await inbox.accept(
                decoded, topic=record.topic, partition=record.partition, offset=record.offset
            )
            if accepted.created:
                self._metrics.accepted.inc()
                continue
            self._metrics.duplicates.inc()
            if accepted.job.state == jobs.DONE:
                await self._republish(
                    s, accepted.job.id, accepted.job.tenant_id, decoded.request_id
                )

    async def _republish(
        self, s: AsyncSession, job_id: str, tenant_id: str, request_id: str
    ) -> None:
        """A duplicate of a finished request gets the stored events again, no upstream call."""
        for target in await jobs.targets(s, job_id):
            if target.outcome is not None:
                enqueue(
                    s,
                    topic=self._s.topic_results,
                    key=tenant_id,
                    payload=target.outcome,
                    ce_type=target.outcome["type"],
                    ce_id=target.outcome["event_id"],
                    subject=request_id,
                )

    def _dead_letter(self, s: AsyncSession, record: ConsumerRecord, rejection: Rejection) -> None:
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
        letter = dead_letter(
            reason=rejection.reason,
            detail=rejection.detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            headers=headers,
            value=record.value or b"",
        )
        enqueue(
            s,
            topic=self._s.topic_dlq,
            key=record.key.decode("utf-8", "replace") if record.key else None,
            payload=letter.model_dump(mode="json"),
            ce_type=TYPE_DEAD_LETTER,
            ce_id=dead_letter_id(record.topic, record.partition, record.offset),
        )
        self._metrics.dead_lettered.labels(rejection.reason).inc()
        logger.warning(
            "dead-lettered",
            extra={
                "reason": rejection.reason,
                "partition": record.partition,
                "offset": record.offset,
            },
        )

    async def _report_lag(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(5.0)
            for tp in consumer.assignment():
                with contextlib.suppress(Exception):
                    self._metrics.consumer_lag.labels(str(tp.partition)).set(
                        await _lag(consumer, tp)
                    )


async def _lag(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    highwater = consumer.highwater(tp)
    if highwater is None:
        return 0
    return max(0, int(highwater) - int(await consumer.position(tp)))
