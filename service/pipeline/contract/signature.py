"""Signed requests: who may speak for a tenant on `translation.requests` (pure).

Any producer that may write the topic may name any `tenant_id`. A tenant with a signing secret
accepts only requests that carry, in the `zai-l10n-signature` Kafka header,

    t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

over the exact bytes of the message value, signed no longer than the tolerance ago (nor as
far ahead: clocks drift both ways). The layout is Stripe's webhook signature: a timestamp bound
into the MAC, so an old message replayed after its job was purged is stale, and a scheme tag,
so a `v2` can be added beside `v1`. Several `v1=` entries may be sent (a producer rotating its
secret signs with both). Comparisons are constant-time (`hmac.compare_digest`).

`verify` says why a request is refused, or None; `service.pipeline.jobs.request_auth` decides whose
secrets apply and caches them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HEADER = "zai-l10n-signature"
SCHEME = "v1"


def mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` signed at `timestamp` (Unix seconds)."""
    return f"t={timestamp},{SCHEME}={mac(secret, timestamp, body)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """(timestamp, v1 signatures) of a header value; None if it is not of that form."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value)
    return (timestamp, signatures) if timestamp is not None and signatures else None


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float,
) -> str | None:
    """None if `header` signs `body` with one of `secrets` within `tolerance` seconds of
    `now`; else why not (for the dead letter's detail: it names no secret or MAC)."""
    if header is None:
        return f"the tenant requires signed requests and the message has no {HEADER} header"
    parsed = parse(header)
    if parsed is None:
        return f"the {HEADER} header is not of the form t=<unix seconds>,{SCHEME}=<hex>"
    timestamp, sent = parsed
    age = now - timestamp
    if abs(age) > tolerance:
        when = f"{int(age)} s ago" if age > 0 else f"{int(-age)} s ahead"
        return f"the signature is stale: signed {when}, tolerance {int(tolerance)} s"
    expected = [mac(secret, timestamp, body) for secret in secrets]
    # Every pair compared, in constant time each: how far a guess matched leaks nothing.
    matches = [hmac.compare_digest(e, s) for e in expected for s in sent if s.isascii()]
    if not any(matches):
        return "the signature does not match the message with the tenant's signing secret"
    return None
