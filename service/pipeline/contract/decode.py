"""Pure decoding and validation of raw request messages: a request, or why to dead-letter it.

(Consuming them from Kafka is `service.kafka.consumer`; accepting them is `pipeline.intake`.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from service.l10n.formats import ResourceFormatError
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.resource import open_file

#: A tenant_id outside REQUEST_TENANTS (when that setting lists tenants).
UNKNOWN_TENANT = "tenant.unknown"
#: A request_id reused with other content (found by the store, against the stored job).
CONFLICT = "request.conflict"
#: A tenant that requires signed requests got one unsigned, badly signed or stale
#: (service.pipeline.jobs.request_auth).
UNAUTHENTICATED = "request.unauthenticated"


@dataclass(frozen=True)
class Rejection:
    # stable code: not_utf8 | bad_json | schema | too_large | bad_file | tenant.unknown |
    # request.conflict | request.unauthenticated
    reason: str
    detail: str


def decode_request(
    raw: bytes, *, max_bytes: int, max_chars: int, tenants: frozenset[str] = frozenset()
) -> TranslationRequestV1 | Rejection:
    """The request, or why to dead-letter it; `tenants`, if not empty, are the only tenant
    ids served (REQUEST_TENANTS)."""
    if len(raw) > max_bytes:
        return Rejection("too_large", f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("not_utf8", f"body is not UTF-8: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection("bad_json", f"body is not JSON: {exc}")
    if not isinstance(data, dict):
        return Rejection("schema", "body must be a JSON object")
    try:
        request = TranslationRequestV1.model_validate(data)
    except ValidationError as exc:
        return Rejection("schema", _describe(exc))
    if tenants and request.tenant_id not in tenants:
        return Rejection(
            UNKNOWN_TENANT, f"tenant_id {request.tenant_id!r} is not one of REQUEST_TENANTS"
        )
    if request.file is not None:
        try:
            open_file(request.file)
        except ResourceFormatError as exc:
            return Rejection("bad_file", str(exc))
    if request.content_chars() > max_chars:
        return Rejection(
            "too_large", f"content has {request.content_chars()} chars, limit {max_chars}"
        )
    return request


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
