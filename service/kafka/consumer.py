"""The Kafka side of the intake: read request batches, have them accepted, then commit offsets.

We drive aiokafka directly rather than through a FastStream subscriber: the inbox needs exact
per-partition commits after a database transaction, pausing on back-pressure while still
polling, and the consumer's positions for the lag metric (see docs/pipeline.md).

While the database does not answer, the consumer pauses its partitions and keeps polling (so
heartbeats and group membership hold); a batch read before the outage is held, its offsets
uncommitted, and accepted once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from service.errors import StoreUnavailable
from service.metrics import Metrics
from service.pipeline.jobs.intake import Intake, Message
from service.pipeline.ports import Accepted

logger = logging.getLogger(__name__)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    # Every batch is committed before the next poll, so a revocation has nothing pending.
    def on_partitions_revoked(self, revoked: Any) -> None:
        logger.info("partitions revoked", extra={"partitions": sorted(str(tp) for tp in revoked)})

    def on_partitions_assigned(self, assigned: Any) -> None:
        logger.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})


class KafkaIntake:
    def __init__(
        self,
        make_consumer: Callable[[], AIOKafkaConsumer],
        topic: str,
        intake: Intake,
        metrics: Metrics,
        *,
        batch_size: int,
        on_accepted: Callable[[Accepted], None],
    ) -> None:
        self._make_consumer = make_consumer
        self._topic = topic
        self._intake = intake
        self._metrics = metrics
        self._batch = batch_size
        self._on_accepted = on_accepted
        self.consumer: AIOKafkaConsumer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer = self._make_consumer()
        consumer.subscribe([self._topic], listener=_Listener())
        await consumer.start()
        lag_task = asyncio.create_task(self._report_lag(consumer, stop))
        try:
            while not stop.is_set():
                await self._poll_once(consumer, stop)
        finally:
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task
            await consumer.stop()

    async def _poll_once(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        if await self._intake.has_room():
            consumer.resume(*consumer.paused())
        else:
            consumer.pause(*consumer.assignment())  # keep polling (heartbeats, rebalances)
        batch = await consumer.getmany(timeout_ms=300, max_records=self._batch)
        records = [r for recs in batch.values() for r in recs]
        if not records:
            return
        accepted = await self._accept_holding(consumer, records, stop)
        if accepted is not None:
            # The jobs are durable now: their work may start before the offsets are committed.
            self._on_accepted(accepted)
            await self._commit(consumer, batch)

    async def _commit(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """Commit an accepted batch. A rebalance while it was being accepted may have moved
        some of its partitions away: those records are read again by their new owner and
        found to be duplicates, so nothing is lost or redone. Before, the failed commit killed
        the intake loop, whose restart rejoined the group and caused a second rebalance."""
        assigned = consumer.assignment()
        offsets = {tp: recs[-1].offset + 1 for tp, recs in batch.items() if tp in assigned}
        error = None
        try:
            if offsets:
                await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:  # the group moved on meanwhile
            offsets, error = {}, repr(exc)
        if len(offsets) < len(batch):
            uncommitted = sorted(str(tp) for tp in batch if tp not in offsets)
            logger.warning(
                "a rebalance moved partitions during a batch; their records come again",
                extra={"partitions": uncommitted, "error": error},
            )

    async def _accept_holding(
        self, consumer: AIOKafkaConsumer, records: list[ConsumerRecord], stop: asyncio.Event
    ) -> Accepted | None:
        """Accept the batch, waiting out a database outage; None if told to stop first (the
        offsets stay uncommitted, so the batch is read again)."""
        messages = [_message(r) for r in records]
        delay = 0.2
        while True:
            try:
                return await self._intake.accept(messages)
            except StoreUnavailable as exc:
                logger.warning("database unavailable: holding a batch", extra={"error": str(exc)})
            if stop.is_set():
                return None
            consumer.pause(*consumer.assignment())
            await consumer.getmany(timeout_ms=int(delay * 1000))  # paused: returns nothing
            delay = min(5.0, delay * 2)

    async def _report_lag(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(5.0)
            for tp in consumer.assignment():
                with contextlib.suppress(Exception):
                    self._metrics.consumer_lag.labels(str(tp.partition)).set(
                        await _lag(consumer, tp)
                    )


def _message(record: ConsumerRecord) -> Message:
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
    # Type 1 is LogAppendTime: the broker's clock when it stored the message, which a producer
    # cannot set (a signature's age is measured from it; type 0, CreateTime, is the producer's).
    appended = record.timestamp / 1000 if record.timestamp_type == 1 else None
    return Message(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        headers,
        record.value or b"",
        appended,
    )


async def _lag(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    highwater = consumer.highwater(tp)
    if highwater is None:
        return 0
    return max(0, int(highwater) - int(await consumer.position(tp)))
