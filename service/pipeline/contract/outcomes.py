"""The outcome of one (request, language) and the events that carry it; pure builders.

An outcome is stored with its job and published from the outbox; a duplicate of a finished
request gets the very same stored bodies again (same `event_id`, so consumers dedupe), through
`outcome_event` here, the one path for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.errors import FailureCode
from service.pipeline.contract.decode import Rejection
from service.pipeline.contract.events import dead_letter, dead_letter_id, event_id
from service.pipeline.contract.messages import (
    TYPE_DEAD_LETTER,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
)
from service.pipeline.contract.states import TargetState

Outcome = TranslationCompletedV1 | TranslationFailedV1


@dataclass(frozen=True)
class OutboundEvent:
    """A message for Kafka: body, key, what its CloudEvents headers say, and the W3C trace
    context it carries (`traceparent`, the CloudEvents distributed-tracing extension)."""

    topic: str
    key: str | None
    payload: Mapping[str, Any]
    ce_type: str
    ce_id: str
    subject: str | None = None
    trace: Mapping[str, str] = field(default_factory=dict)


def failed(
    req: TranslationRequestV1,
    lang: str,
    code: FailureCode,
    message: str,
    retryable: bool,
    upstream_code: str | None = None,
) -> TranslationFailedV1:
    return TranslationFailedV1(
        event_id=event_id(req.tenant_id, req.request_id, lang),
        request_id=req.request_id,
        tenant_id=req.tenant_id,
        source_lang=req.source_lang,
        target_lang=lang,
        error_code=code.value,
        message=message,
        retryable=retryable,
        upstream_code=upstream_code,
        metadata=req.metadata,
    )


def state_of(outcome: Outcome) -> TargetState:
    return TargetState.failed if isinstance(outcome, TranslationFailedV1) else TargetState.completed


def outcome_event(
    body: Mapping[str, Any],
    *,
    topic: str,
    tenant_id: str,
    request_id: str,
    trace: Mapping[str, str] | None = None,
) -> OutboundEvent:
    """The result event of a stored outcome body (fresh or republished alike)."""
    return OutboundEvent(
        topic=topic,
        key=tenant_id,
        payload=body,
        ce_type=str(body["type"]),
        ce_id=str(body["event_id"]),
        subject=request_id,
        trace=dict(trace or {}),
    )


def dead_letter_event(
    *,
    topic: str,
    rejection: Rejection,
    source_topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Mapping[str, str],
    value: bytes,
    trace: Mapping[str, str] | None = None,
) -> OutboundEvent:
    letter = dead_letter(
        reason=rejection.reason,
        detail=rejection.detail,
        topic=source_topic,
        partition=partition,
        offset=offset,
        key=key,
        headers=headers,
        value=value,
    )
    return OutboundEvent(
        topic=topic,
        key=key.decode("utf-8", "replace") if key else None,
        payload=letter.model_dump(mode="json"),
        ce_type=TYPE_DEAD_LETTER,
        ce_id=dead_letter_id(source_topic, partition, offset),
        trace=dict(trace or {}),
    )
