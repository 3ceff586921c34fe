"""The Kafka adapter: consume requests, publish outcome events and dead letters (walking skeleton).

Offsets are committed by hand (AckPolicy.MANUAL) only after a message's events are published,
so a crash re-delivers rather than loses work. Processing is one message at a time for now;
the bounded-concurrency engine replaces this loop in the pipeline issue.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from service.config import Settings
from service.pipeline.contracts import TYPE_DEAD_LETTER
from service.pipeline.events import ce_headers, dead_letter, dead_letter_id
from service.pipeline.intake import Rejection, decode_request
from service.pipeline.translate import Translator, translate_request

logger = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings, translator: Translator) -> None:
        self._settings = settings
        self._translator = translator
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            graceful_timeout=settings.worker_graceful_timeout,
            client_id="zai-l10n-worker",
        )
        subscriber = self.broker.subscriber(
            settings.topic_requests,
            group_id=settings.kafka_group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
        )
        subscriber(self._handle)

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def _handle(self, msg: KafkaMessage) -> None:
        try:
            await self._process(msg)
        except Exception:
            # Unexpected (e.g. the broker refused a publish): hand the message back, do not lose it.
            logger.exception("processing failed; message will be redelivered")
            await asyncio.sleep(1.0)
            await msg.nack()
            return
        await msg.ack()

    async def _process(self, msg: KafkaMessage) -> None:
        s = self._settings
        decoded = decode_request(
            msg.body, max_bytes=s.request_max_bytes, max_chars=s.request_max_chars
        )
        if isinstance(decoded, Rejection):
            await self._dead_letter(msg, decoded)
            return
        for outcome in await translate_request(decoded, self._translator):
            await self.broker.publish(
                outcome.model_dump(mode="json", exclude_none=True),
                topic=s.topic_results,
                key=decoded.tenant_id.encode(),
                headers=ce_headers(
                    ce_type=outcome.type, ce_id=outcome.event_id, subject=decoded.request_id
                ),
            )
        logger.info(
            "request done",
            extra={"tenant_id": decoded.tenant_id, "request_id": decoded.request_id},
        )

    async def _dead_letter(self, msg: KafkaMessage, rejection: Rejection) -> None:
        record = msg.raw_message
        assert isinstance(record, ConsumerRecord)  # batch subscribers would hand a tuple
        topic, partition, offset = record.topic, record.partition, record.offset
        letter = dead_letter(
            reason=rejection.reason,
            detail=rejection.detail,
            topic=topic,
            partition=partition,
            offset=offset,
            key=record.key,
            headers={k: v for k, v in msg.headers.items() if isinstance(v, str)},
            value=msg.body,
        )
        await self.broker.publish(
            letter.model_dump(mode="json"),
            topic=self._settings.topic_dlq,
            key=record.key,
            headers=ce_headers(
                ce_type=TYPE_DEAD_LETTER, ce_id=dead_letter_id(topic, partition, offset)
            ),
        )
        logger.warning("dead-lettered", extra={"reason": rejection.reason, "offset": offset})
