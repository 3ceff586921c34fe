"""Publishing requests and collecting their results over Kafka, with FastStream's KafkaBroker.

    broker = bootstrap.faststream_broker(settings)
    client = TranslationClient(broker, settings.topic_requests, settings.topic_results,
                               settings.topic_dlq)         # subscribes before the broker starts
    async with connected(broker, within=10):              # BrokerUnavailable if Kafka is not there
        await client.send(requests)
        outcomes = await client.wait(timeout=600, on_outcome=print)

Results are read without a consumer group from the end of the topics: the client pins its
position on every partition before it publishes, so no result can slip in between. A request
the worker dead-letters (invalid, too large) ends as an outcome too, with the reason.
With FastStream's TestKafkaBroker the same client runs in memory (`tests/unit/client`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from service.pipeline.contract.messages import TYPE_COMPLETED, TranslationRequestV1
from service.pipeline.contract.signature import HEADER, sign


class BrokerUnavailable(Exception):
    """Kafka did not answer."""


@dataclass(frozen=True)
class Outcome:
    request_id: str
    target_lang: str | None  # None: the whole request was dead-lettered
    ok: bool
    event: dict[str, Any] = field(repr=False)

    @property
    def problem(self) -> str:
        """Why it failed, for a person: the error code and the worker's message."""
        e = self.event
        if self.target_lang is None:
            return f"rejected ({e.get('reason')}): {e.get('detail')}"
        return f"{e.get('error_code')}: {e.get('message')}"


@asynccontextmanager
async def connected(broker: KafkaBroker, within: float) -> AsyncIterator[KafkaBroker]:
    try:
        await asyncio.wait_for(broker.start(), within)
    except Exception as exc:  # aiokafka's connection errors, a timeout, a DNS failure
        await broker.stop()
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    try:
        yield broker
    finally:
        await broker.stop()


class TranslationClient:
    def __init__(
        self,
        broker: KafkaBroker,
        requests_topic: str,
        results_topic: str,
        dlq_topic: str,
        *,
        signing_secret: SecretStr | None = None,
    ) -> None:
        self._broker = broker
        self._secret = signing_secret
        self._requests_topic = requests_topic
        self._expected: dict[str, set[str]] = {}  # request id → languages still awaited
        self._tenant: dict[str, str] = {}
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        options: dict[str, Any] = {"group_id": None, "auto_offset_reset": "latest"}
        self._subscribers = [
            broker.subscriber(results_topic, **options)(self._on_result),
            broker.subscriber(dlq_topic, **options)(self._on_dead_letter),
        ]

    async def pin_positions(self, within: float = 10.0) -> None:
        """Fix where reading starts (the end of each partition) before anything is published.

        A topic that does not exist yet (no worker ever ran) has no partition to pin; its
        first results are then read from wherever the consumer starts.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for subscriber in self._subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if not isinstance(consumer, AIOKafkaConsumer):
                continue  # in memory (TestKafkaBroker): nothing can be missed
            for _ in range(int(within / 0.05)):  # aiokafka has no event for "assigned"
                if consumer.assignment() or loop.time() > deadline:
                    break
                await asyncio.sleep(0.05)
            for partition in consumer.assignment():
                await consumer.position(partition)

    async def send(self, requests: Sequence[TranslationRequestV1]) -> None:
        for request in requests:
            self._expected[request.request_id] = set(request.target_langs)
            self._tenant[request.request_id] = request.tenant_id
        for request in requests:
            # The exact bytes sent are the bytes signed: serialized here, published as they are.
            body = json.dumps(request.model_dump(mode="json", exclude_none=True)).encode()
            headers = {"content-type": "application/json"}
            if self._secret is not None:
                headers[HEADER] = sign(self._secret.get_secret_value(), body, int(time.time()))
            await self._broker.publish(
                body, self._requests_topic, key=request.tenant_id.encode(), headers=headers
            )

    async def wait(
        self, within: float, on_outcome: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Every outcome of the requests sent, or as many as came in `within` seconds."""
        outcomes: list[Outcome] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while any(self._expected.values()) or not self._outcomes.empty():
            try:
                outcome = await asyncio.wait_for(self._outcomes.get(), deadline - loop.time())
            except TimeoutError:
                break
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes

    def missing(self) -> dict[str, set[str]]:
        """Languages of each request that have no outcome yet."""
        return {rid: langs for rid, langs in self._expected.items() if langs}

    async def _on_result(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        rid, lang = body.get("request_id"), body.get("target_lang")
        awaited = self._expected.get(str(rid))
        if (
            awaited is None
            or lang not in awaited
            or body.get("tenant_id") != self._tenant[str(rid)]
        ):
            return  # another client's result, or a duplicate delivery
        awaited.discard(lang)
        ok = body.get("type") == TYPE_COMPLETED
        self._outcomes.put_nowait(Outcome(str(rid), str(lang), ok, body))

    async def _on_dead_letter(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        rid = _original_request_id(body.get("original_value_b64"))
        if rid is None or not self._expected.get(rid):
            return
        self._expected[rid] = set()
        self._outcomes.put_nowait(Outcome(rid, None, False, body))


def _original_request_id(value_b64: Any) -> str | None:
    try:
        original = json.loads(base64.b64decode(str(value_b64), validate=True))
    except (binascii.Error, ValueError):
        return None
    rid = original.get("request_id") if isinstance(original, dict) else None
    return rid if isinstance(rid, str) else None
