"""Truto's error replies onto the Z.ai error tree (pure).

Truto answers every error `{statusCode, error, message}`. When the provider (Z.ai) failed, it
adds `truto_is_remote_error: true`, the provider's body as `raw_response` and the provider's
headers, `Retry-After` among them (docs/truto.md). So:

| reply | error | retried |
| --- | --- | --- |
| remote 401 (Truto marks the account `needs_reauth`) | UpstreamReconnectRequired | no |
| any other remote error | Z.ai's own `classify` of `raw_response` at that status | as Z.ai's |
| Truto's 429 (its limits per account and token) | ZaiRateLimited, `Retry-After` | yes |
| Truto's 503: the account is blocked | UpstreamAccountBlocked | no |
| Truto's 502 / 504 / other 5xx: no clean answer from Z.ai | ZaiServerError | yes |
| Truto's 401: our API token is refused | ZaiAuthError (the service's setup) | no |
| Truto's 405: a write on a sandbox account | ZaiPermissionDenied | no |
| Truto's 404: unknown account or resource | ZaiBadRequest | no |
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from service.zai.errors import (
    UpstreamAccountBlocked,
    UpstreamReconnectRequired,
    ZaiAuthError,
    ZaiBadRequest,
    ZaiError,
    ZaiPermissionDenied,
    ZaiRateLimited,
    ZaiServerError,
    ZaiTimeout,
    classify,
)
from service.zai.retry import parse_retry_after

#: Truto's documented Retry-After for its own 429s, used when the header is missing.
TRUTO_RETRY_AFTER = 10.0


def classify_truto(
    status: int, body: object, headers: Mapping[str, str], *, route: str = ""
) -> ZaiError:
    """The ZaiError for a non-2xx Truto reply (`headers` as sent, any case)."""
    envelope = body if isinstance(body, Mapping) else {}
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered.get("retry-after"))
    if envelope.get("truto_is_remote_error") is True:
        err = _remote(status, envelope, route)
    else:
        err = _truto_own(status, envelope)
        if isinstance(err, ZaiRateLimited) and retry_after is None:
            retry_after = TRUTO_RETRY_AFTER
    err.retry_after = retry_after if retry_after is not None else err.retry_after
    err.upstream_request_id = err.upstream_request_id or lowered.get("x-log-id")
    return err


def is_truto_rate_limit(status: int, body: object) -> bool:
    """Truto's own 429 (not one Z.ai sent through it)."""
    remote = isinstance(body, Mapping) and body.get("truto_is_remote_error") is True
    return status == 429 and not remote


def _remote(status: int, envelope: Mapping[str, object], route: str) -> ZaiError:
    raw = _parsed(envelope.get("raw_response"))
    message = _text(envelope.get("message"))
    if status == 401:
        return UpstreamReconnectRequired(
            "Z.ai refused the connected account's credentials"
            + (f" ({message})" if message else "")
            + "; its owner must reconnect it through Truto",
            status=status,
        )
    err = classify(status, raw, route=route)
    if not err.message or err.message == (type(err).__doc__ or "").strip():
        err.message = message or err.message
        err.args = (err.message,)
    return err


def _truto_own(status: int, envelope: Mapping[str, object]) -> ZaiError:
    detail = _text(envelope.get("message")) or _text(envelope.get("error")) or f"HTTP {status}"
    message = f"Truto: {detail}"
    if status == 429:
        return ZaiRateLimited(message, status=status, retryable=True)
    if status == 503:
        return UpstreamAccountBlocked(message, status=status)
    if status == 408:
        return ZaiTimeout(message, status=status)
    if status >= 500:
        return ZaiServerError(message, status=status, retryable=True)
    if status == 401:
        return ZaiAuthError(f"{message} (check TRUTO_API_TOKEN)", status=status)
    if status in (403, 405):
        hint = " (a sandbox account cannot write)" if status == 405 else ""
        return ZaiPermissionDenied(message + hint, status=status)
    return ZaiBadRequest(message, status=status)


def _parsed(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return {"message": raw}
    return raw


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
