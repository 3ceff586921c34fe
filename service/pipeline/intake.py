"""Accepting what the consumer read: decode each message, then persist the batch in one go.

Valid requests become jobs, invalid ones dead letters, in one store transaction; only after
it the consumer commits the offsets (`service.kafka.consumer` is the Kafka side). The backlog
gate tells the consumer when to pause: at WORKER_MAX_BACKLOG open jobs, or while the database
does not answer (nothing could be accepted anyway).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from service.errors import StoreUnavailable
from service.metrics import Metrics
from service.pipeline.decode import Rejection, decode_request
from service.pipeline.outcomes import OutboundEvent, dead_letter_event
from service.pipeline.ports import Accepted, Arrival, JobStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A consumed message, as the Kafka adapter hands it over."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Mapping[str, str]
    value: bytes


@dataclass(frozen=True)
class IntakeConfig:
    results_topic: str
    dlq_topic: str
    max_bytes: int = 1_000_000
    max_chars: int = 200_000
    max_backlog: int = 5000
    backlog_every: float = 1.0  # seconds a backlog count is reused


class Intake:
    def __init__(
        self,
        store: JobStore,
        metrics: Metrics,
        config: IntakeConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._cfg = config
        self._clock = clock
        self._backlog = 0
        self._backlog_at: float | None = None

    async def has_room(self) -> bool:
        """False at the backlog limit or while the database does not answer."""
        now = self._clock()
        if self._backlog_at is None or now - self._backlog_at > self._cfg.backlog_every:
            try:
                self._backlog = await self._store.backlog()
            except StoreUnavailable:
                return False
            self._backlog_at = now
            self._metrics.backlog.set(self._backlog)
        return self._backlog < self._cfg.max_backlog

    async def accept(self, messages: Sequence[Message]) -> Accepted:
        """Persist a batch; raises StoreUnavailable (nothing written) if the database is down."""
        arrivals: list[Arrival] = []
        letters: list[OutboundEvent] = []
        for m in messages:
            decoded = decode_request(
                m.value, max_bytes=self._cfg.max_bytes, max_chars=self._cfg.max_chars
            )
            if isinstance(decoded, Rejection):
                letters.append(self._dead_letter(m, decoded))
            else:
                arrivals.append(Arrival(decoded, m.topic, m.partition, m.offset))
        accepted = await self._store.accept(arrivals, letters, self._cfg.results_topic)
        self._count(len(messages), accepted)
        return replace(accepted, dead_lettered=len(letters))

    def _count(self, consumed: int, accepted: Accepted) -> None:
        self._metrics.consumed.inc(consumed)
        self._metrics.accepted.inc(accepted.created)
        self._metrics.duplicates.inc(accepted.duplicates)
        self._backlog += accepted.created

    def _dead_letter(self, m: Message, rejection: Rejection) -> OutboundEvent:
        self._metrics.dead_lettered.labels(rejection.reason).inc()
        logger.warning(
            "dead-lettered",
            extra={"reason": rejection.reason, "partition": m.partition, "offset": m.offset},
        )
        return dead_letter_event(
            topic=self._cfg.dlq_topic,
            rejection=rejection,
            source_topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            key=m.key,
            headers=m.headers,
            value=m.value,
        )
