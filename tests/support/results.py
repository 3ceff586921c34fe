"""A background reader for drills: every record of a topic as it arrives, with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when read
    ce_id: str | None  # the CloudEvents id header, the dedupe key consumers use
    event: dict[str, Any]


class TopicCollector:
    """Reads `topic` from the start in a task, so waiting never re-reads the whole topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=f"collector-{uuid.uuid4().hex[:6]}",
        )
        self.received: list[Received] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicCollector:
        await self._consumer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _pump(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=1000)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers or ()}
                    self.received.append(Received(now, headers.get("ce_id"), json.loads(r.value)))

    def by_id(self) -> dict[str | None, list[Received]]:
        """Records grouped by `ce_id` (duplicates from at-least-once delivery land together)."""
        groups: dict[str | None, list[Received]] = {}
        for r in self.received:
            groups.setdefault(r.ce_id, []).append(r)
        return groups
