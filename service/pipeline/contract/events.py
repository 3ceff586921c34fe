"""Pure builders for the events we publish: stable ids and CloudEvents 1.0 Kafka-binding headers."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from service.pipeline.contract.messages import (
    CE_SOURCE,
    CE_SPECVERSION,
    TYPE_DEAD_LETTER,
    DeadLetterV1,
)

# A fixed namespace so the same (tenant, request, language) always yields the same event id.
_EVENT_NAMESPACE = uuid.UUID("7b1f9a52-3f0e-4c53-9a57-2f3b5d0e6c11")


def event_id(tenant_id: str, request_id: str, target_lang: str) -> str:
    """Stable id of the one outcome event per (tenant, request, target language), for dedupe:
    `uuid5(_EVENT_NAMESPACE, name)`, computed without building UUID objects (a job's hot
    path; a test pins it to `uuid.uuid5`)."""
    name = f"{tenant_id}\x1f{request_id}\x1f{target_lang}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


def ce_headers(
    *, ce_type: str, ce_id: str, subject: str | None = None, now: datetime | None = None
) -> dict[str, str]:
    """Binary-mode CloudEvents headers (Kafka protocol binding: `ce_` prefix, content-type)."""
    headers = {
        "ce_specversion": CE_SPECVERSION,
        "ce_id": ce_id,
        "ce_type": ce_type,
        "ce_source": CE_SOURCE,
        "ce_time": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "content-type": "application/json",
    }
    if subject:
        headers["ce_subject"] = subject
    return headers


def dead_letter(
    *,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Mapping[str, str],
    value: bytes,
) -> DeadLetterV1:
    """Everything needed to inspect or replay a rejected message: the original bytes stay intact."""
    return DeadLetterV1(
        type=TYPE_DEAD_LETTER,
        reason=reason,
        detail=detail[:2000],
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        original_key=key.decode("utf-8", "replace") if key is not None else None,
        original_headers=dict(headers),
        original_value_b64=base64.b64encode(value).decode("ascii"),
    )


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"dlq\x1f{topic}\x1f{partition}\x1f{offset}"))
