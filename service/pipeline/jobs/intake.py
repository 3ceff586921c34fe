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
from functools import partial

from service import tracing
from service.errors import StoreUnavailable
from service.metrics import Metrics
from service.pipeline.contract.decode import CONFLICT, Rejection, decode_request
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent, dead_letter_event
from service.pipeline.jobs.request_auth import RequestAuth
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
    appended_at: float | None = None  # the broker's LogAppendTime (seconds), if the topic has it


@dataclass(frozen=True)
class IntakeConfig:
    results_topic: str
    dlq_topic: str
    max_bytes: int = 1_000_000
    max_chars: int = 200_000
    tenants: frozenset[str] = frozenset()  # empty: any well-formed tenant_id
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
        auth: RequestAuth | None = None,
    ) -> None:
        self._auth = auth  # None: no tenant requires signed requests (unit tests, benchmarks)
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
        """Persist a batch; raises StoreUnavailable (nothing written) if the database is down.

        Each message gets an `intake` span, a child of its producer's `traceparent`, ended when
        the batch is persisted; its context goes with the job (or the dead letter)."""
        spans = [_intake_span(m) for m in messages]
        with tracing.finishing(spans):
            return await self._accept(messages, spans)

    async def _accept(
        self, messages: Sequence[Message], spans: Sequence[tracing.Span | None]
    ) -> Accepted:
        arrivals: list[Arrival] = []
        letters: list[OutboundEvent] = []
        decoded_all = [self._decode(m) for m in messages]
        if self._auth is not None:
            await self._auth.load(
                {d.tenant_id for d in decoded_all if isinstance(d, TranslationRequestV1)}
            )
        for m, span, decoded in zip(messages, spans, decoded_all, strict=True):
            if self._auth is not None and not isinstance(decoded, Rejection):
                refused = self._auth.check(decoded.tenant_id, m.headers, m.value, m.appended_at)
                decoded = refused or decoded
            trace = tracing.carrier_of(span, m.headers)
            if isinstance(decoded, Rejection):
                tracing.tag(span, {"zai_l10n.dead_letter_reason": decoded.reason})
                letters.append(self._dead_letter(m, decoded, trace))
            else:
                if tracing.recording(span):
                    ids = {"zai_l10n.tenant_id": decoded.tenant_id}
                    tracing.tag(span, ids | {"zai_l10n.request_id": decoded.request_id})
                conflict = partial(self._conflict, m, decoded, trace)
                arrivals.append(Arrival(decoded, m.topic, m.partition, m.offset, conflict, trace))
        accepted = await self._store.accept(arrivals, letters, self._cfg.results_topic)
        self._count(len(messages), accepted)
        return replace(accepted, dead_lettered=len(letters))

    def _decode(self, m: Message) -> TranslationRequestV1 | Rejection:
        return decode_request(
            m.value,
            max_bytes=self._cfg.max_bytes,
            max_chars=self._cfg.max_chars,
            tenants=self._cfg.tenants,
        )

    def _count(self, consumed: int, accepted: Accepted) -> None:
        self._metrics.consumed.inc(consumed)
        self._metrics.accepted.inc(accepted.created)
        self._metrics.duplicates.inc(accepted.duplicates)
        self._backlog += accepted.created
        if accepted.conflicts:
            # Counted here, after the commit: the store may build a letter more than once.
            self._metrics.dead_lettered.labels(CONFLICT).inc(accepted.conflicts)
            logger.warning("dead-lettered", extra={"reason": CONFLICT, "count": accepted.conflicts})

    def _dead_letter(
        self, m: Message, rejection: Rejection, trace: Mapping[str, str]
    ) -> OutboundEvent:
        self._metrics.dead_lettered.labels(rejection.reason).inc()
        logger.warning(
            "dead-lettered",
            extra={"reason": rejection.reason, "partition": m.partition, "offset": m.offset},
        )
        return self._letter(m, rejection, trace)

    def _conflict(
        self, m: Message, request: TranslationRequestV1, trace: Mapping[str, str], stored: str
    ) -> OutboundEvent:
        """The request_id is taken by other content: tell the client, leave the job alone."""
        detail = (
            f"request_id {request.request_id!r} of tenant {request.tenant_id!r} is already "
            f"taken by other content: stored sha256 {stored}, this message sha256 "
            f"{request.content_hash()} (the original job is untouched; use a new request_id)"
        )
        return self._letter(m, Rejection(CONFLICT, detail), trace)

    def _letter(self, m: Message, rejection: Rejection, trace: Mapping[str, str]) -> OutboundEvent:
        return dead_letter_event(
            topic=self._cfg.dlq_topic,
            rejection=rejection,
            source_topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            key=m.key,
            headers=m.headers,
            value=m.value,
            trace=trace,
        )


def _intake_span(m: Message) -> tracing.Span | None:
    def attributes() -> tracing.Attributes:
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": m.topic,
            "messaging.destination.partition.id": str(m.partition),
            "messaging.kafka.offset": m.offset,
        }

    return tracing.start(
        "intake", parent=m.headers, kind=tracing.SpanKind.CONSUMER, attributes=attributes
    )
