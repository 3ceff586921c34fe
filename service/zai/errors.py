"""Typed Z.ai errors and the pure classification of upstream failures.

Tree (``error_code`` in brackets; R = retryable by default)::

    ZaiError [zai.error]
    ├── ZaiRateLimited [zai.rate_limited]          R for 1302/1303/1305, not for a bare 429
    ├── ZaiQuotaExceeded [zai.quota_exceeded]      1113 balance, 1304 daily, 1308 cap
    ├── ZaiAuthError [zai.auth_failed]             401, 1000-1004
    │   └── UpstreamReconnectRequired [upstream.reconnect_required]  a connection's key was
    │                                                rejected (Truto: needs_reauth); reconnect
    ├── ZaiAccountError [zai.account_unavailable]  1100, 1110-1112, 1121; R for 1120
    │   └── UpstreamAccountBlocked [upstream.account_blocked]  Truto: the account is blocked
    ├── ZaiPermissionDenied [zai.permission_denied] 403, 434 (file API), 1220-1222, 1300
    ├── ZaiBadRequest [zai.bad_request]            other 4xx, 1200, 1210-1215, 1231
    │   ├── ZaiInvalidRequest [zai.invalid_request]  rejected locally, no HTTP call made
    │   ├── ZaiFileNotFound [zai.file_not_found]     404 on files; 1214 if the request had a file
    │   └── ZaiPromptTooLong [zai.prompt_too_long]   1261
    ├── ZaiContentFiltered [zai.content_filtered]  1301, finish_reason "sensitive"
    ├── ZaiTruncated [zai.truncated]               finish_reason "length"
    ├── ZaiInferenceFailed [zai.inference_failed]  finish_reason "network_error" (R) or other
    ├── ZaiServerError [zai.server_error]          R: 5xx, 500, 1230 (once), 1234
    ├── ZaiTimeout [zai.timeout]                   R: connect/read/pool timeouts, HTTP 408
    ├── ZaiConnectionError [zai.connection_error]  R: refused/dropped connections
    ├── ZaiMalformedResponse [zai.malformed_response] R: unparsable 2xx body
    └── ZaiDeadlineExceeded [zai.deadline_exceeded] R: async task still pending at the deadline

Nothing here performs I/O: ``classify`` maps (HTTP status, parsed body) to an error instance,
and ``refused_file`` makes a refusal of a request that carried a file id a ZaiFileNotFound.
Errors of the Truto proxy are classified in ``service.zai.truto.classify`` onto this tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from service.errors import UpstreamError


class ZaiError(UpstreamError):
    """Z.ai request failed."""

    error_code: ClassVar[str] = "zai.error"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        request_id: str | None = None,
        upstream_request_id: str | None = None,
        retry_after: float | None = None,
        finish_reason: str | None = None,
        async_id: str | None = None,
    ) -> None:
        super().__init__(
            message or (self.__doc__ or "").strip(),
            code=code,
            retryable=self.default_retryable if retryable is None else retryable,
        )
        self.status = status
        self.request_id = request_id
        self.upstream_request_id = upstream_request_id
        self.retry_after = retry_after
        self.finish_reason = finish_reason
        self.async_id = async_id
        self.attempts = 0

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self._fields().items() if v is not None]
        return f"{self.error_code}: {self.message} [{' '.join(parts)}]"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({self.message!r}, {fields}, retryable={self.retryable})"

    def _fields(self) -> dict[str, object]:
        return {
            "status": self.status,
            "code": self.code,
            "finish_reason": self.finish_reason,
            "request_id": self.request_id,
            "upstream_request_id": self.upstream_request_id,
            "async_id": self.async_id,
        }


class ZaiRateLimited(ZaiError):
    """Z.ai rate limit reached."""

    error_code = "zai.rate_limited"


class ZaiQuotaExceeded(ZaiError):
    """Z.ai balance, daily limit or usage cap exhausted."""

    error_code = "zai.quota_exceeded"
    QUOTA_KINDS: ClassVar[Mapping[str, str]] = {"1113": "balance", "1304": "daily", "1308": "cap"}

    @property
    def quota(self) -> str | None:
        """Which quota ran out: ``balance``, ``daily`` or ``cap`` (None if unknown)."""
        return self.QUOTA_KINDS.get(self.code or "")


class ZaiAuthError(ZaiError):
    """Z.ai rejected the API key."""

    error_code = "zai.auth_failed"


class UpstreamReconnectRequired(ZaiAuthError):
    """The connected Z.ai account rejected its credentials; the customer must reconnect it."""

    error_code = "upstream.reconnect_required"


class ZaiAccountError(ZaiError):
    """Z.ai account is inactive, locked or unavailable."""

    error_code = "zai.account_unavailable"


class UpstreamAccountBlocked(ZaiAccountError):
    """The integration platform has blocked the connected account."""

    error_code = "upstream.account_blocked"


class ZaiPermissionDenied(ZaiError):
    """Z.ai denied access to this API."""

    error_code = "zai.permission_denied"


class ZaiBadRequest(ZaiError):
    """Z.ai rejected the request parameters."""

    error_code = "zai.bad_request"


class ZaiInvalidRequest(ZaiBadRequest):
    """Request rejected locally before any HTTP call."""

    error_code = "zai.invalid_request"


class ZaiFileNotFound(ZaiBadRequest):
    """Uploaded file (glossary) is unknown, expired or refused."""

    error_code = "zai.file_not_found"
    file_refused = True


class ZaiPromptTooLong(ZaiBadRequest):
    """Source text too long for one request."""

    error_code = "zai.prompt_too_long"


class ZaiContentFiltered(ZaiError):
    """Z.ai content moderation blocked the input or output."""

    error_code = "zai.content_filtered"


class ZaiTruncated(ZaiError):
    """Translation was cut off (finish_reason "length")."""

    error_code = "zai.truncated"


class ZaiInferenceFailed(ZaiError):
    """Z.ai inference ended without a complete translation."""

    error_code = "zai.inference_failed"


class ZaiServerError(ZaiError):
    """Z.ai server error."""

    error_code = "zai.server_error"
    default_retryable = True


class ZaiTimeout(ZaiError):
    """Z.ai request timed out."""

    error_code = "zai.timeout"
    default_retryable = True


class ZaiConnectionError(ZaiError):
    """Could not connect to Z.ai, or the connection dropped."""

    error_code = "zai.connection_error"
    default_retryable = True


class ZaiMalformedResponse(ZaiError):
    """Z.ai sent a reply that could not be parsed."""

    error_code = "zai.malformed_response"
    default_retryable = True


class ZaiDeadlineExceeded(ZaiError):
    """Async translation still pending at the deadline."""

    error_code = "zai.deadline_exceeded"
    default_retryable = True  # the task may still finish: resume with ZaiClient.poll(async_id)


_Rule = tuple[type[ZaiError], bool]


def _rules(codes: str, cls: type[ZaiError], retryable: bool) -> dict[str, _Rule]:
    return {code: (cls, retryable) for code in codes.split()}


# Business code -> (class, retryable); zai-api.md §8.3 plus the recommendations.
CODE_RULES: Mapping[str, _Rule] = {
    **_rules("500 1230 1234", ZaiServerError, True),
    **_rules("1000 1001 1002 1003 1004", ZaiAuthError, False),
    **_rules("1100 1110 1111 1112 1121", ZaiAccountError, False),
    **_rules("1120", ZaiAccountError, True),
    **_rules("1113 1304 1308", ZaiQuotaExceeded, False),
    **_rules("1200 1210 1211 1212 1213 1214 1215 1231", ZaiBadRequest, False),
    **_rules("1220 1221 1222 1300", ZaiPermissionDenied, False),
    **_rules("1261", ZaiPromptTooLong, False),
    **_rules("1301", ZaiContentFiltered, False),
    **_rules("1302 1303 1305", ZaiRateLimited, True),
}


def normalise_code(value: object) -> str | None:
    """Business codes are digit strings upstream, ints in the OpenAPI schema: unify to str."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def parse_envelope(body: object) -> tuple[str | None, str, str | None]:
    """(code, message, upstream request id) from any of the documented error envelopes."""
    if not isinstance(body, Mapping):
        return None, "", None
    err = body.get("error")
    nested: Mapping[str, Any] = err if isinstance(err, Mapping) else {}
    code = normalise_code(nested.get("code")) or normalise_code(body.get("code"))
    message = _first_text(nested.get("message"), nested.get("msg"))
    if not message:
        loose = err if isinstance(err, str) else None
        message = _first_text(body.get("message"), body.get("msg"), loose)
    upstream = _first_text(body.get("request_id"), nested.get("request_id")) or None
    return code, message, upstream


def _first_text(*values: object) -> str:
    return next((v for v in values if isinstance(v, str) and v), "")


def classify(status: int | None, body: object, *, route: str = "") -> ZaiError:
    """Map an HTTP status and parsed JSON body to a ZaiError; the business code wins."""
    code, message, upstream = parse_envelope(body)
    cls, retryable = _by_code(code) or _by_status(status, route)
    return cls(message, status=status, code=code, retryable=retryable, upstream_request_id=upstream)


def _by_code(code: str | None) -> _Rule | None:
    return CODE_RULES.get(code or "")


# Z.ai has no "file not found" code: an unknown, expired or deleted file id is refused like any
# invalid field, 1214 ("${field} invalid", zai-api.md §8.3), and its wording is no contract (it
# may even come in Chinese). So the code and the request decide, never the message.
FILE_REFUSED_CODES = frozenset({"1214"})


def refused_file(err: ZaiError, file_id: str | None) -> ZaiError:
    """`err` as a ZaiFileNotFound when the request carried `file_id` (a glossary, a file to
    delete) and was refused with 1214, whatever the message; else `err` itself. The pipeline
    uploads the glossary again once, so a refusal that was not about the file costs one upload
    and then stands."""
    if not file_id or isinstance(err, ZaiFileNotFound) or err.code not in FILE_REFUSED_CODES:
        return err
    found = ZaiFileNotFound(
        err.message,
        status=err.status,
        code=err.code,
        retryable=False,
        request_id=err.request_id,
        upstream_request_id=err.upstream_request_id,
        retry_after=err.retry_after,
        finish_reason=err.finish_reason,
        async_id=err.async_id,
    )
    found.attempts = err.attempts
    return found


def _by_status(status: int | None, route: str) -> _Rule:
    if status is None or status < 400:
        return ZaiServerError, False  # an error body on a 2xx with an unknown code
    if status >= 500:
        return ZaiServerError, True
    if status == 401:
        return ZaiAuthError, False
    if status in (403, 434):
        return ZaiPermissionDenied, False
    if status == 404 and route.startswith("files"):
        return ZaiFileNotFound, False
    if status == 408:
        return ZaiTimeout, True
    if status == 429:
        return ZaiRateLimited, False  # only the business code makes a 429 retryable
    return ZaiBadRequest, False


def finish_reason_error(finish_reason: str | None) -> ZaiError:
    """The error for a choice whose finish_reason is anything but ``stop``."""
    if finish_reason == "sensitive":
        return ZaiContentFiltered(finish_reason=finish_reason)
    if finish_reason == "length":
        return ZaiTruncated(finish_reason=finish_reason)
    if finish_reason == "network_error":
        # Upstream calls this an inference failure; a fresh call usually succeeds.
        return ZaiInferenceFailed(finish_reason=finish_reason, retryable=True)
    return ZaiInferenceFailed(
        f"Z.ai reply has finish_reason {finish_reason!r}, not 'stop'.",
        finish_reason=finish_reason,
    )


def redact(error: ZaiError, secret: str) -> ZaiError:
    """Strip a secret from an upstream message in case the server echoes it back."""
    if secret and secret in error.message:
        error.message = error.message.replace(secret, "[redacted]")
        error.args = (error.message,)
    return error
