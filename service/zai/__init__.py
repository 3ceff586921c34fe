"""Z.ai client: the General Translation agent and the file API over async httpx."""

from __future__ import annotations

from service.auth.credentials import key_fingerprint
from service.zai.client import ZaiClient
from service.zai.errors import (
    UpstreamAccountBlocked,
    UpstreamReconnectRequired,
    ZaiAccountError,
    ZaiAuthError,
    ZaiBadRequest,
    ZaiConnectionError,
    ZaiContentFiltered,
    ZaiDeadlineExceeded,
    ZaiError,
    ZaiFileNotFound,
    ZaiInferenceFailed,
    ZaiInvalidRequest,
    ZaiMalformedResponse,
    ZaiPermissionDenied,
    ZaiPromptTooLong,
    ZaiQuotaExceeded,
    ZaiRateLimited,
    ZaiServerError,
    ZaiTimeout,
    ZaiTruncated,
    classify,
)
from service.zai.http import new_request_id
from service.zai.models import FileObject, PendingTask, TranslateRequest, Translation, Usage
from service.zai.retry import RetryPolicy

__all__ = [
    "FileObject",
    "PendingTask",
    "RetryPolicy",
    "TranslateRequest",
    "Translation",
    "UpstreamAccountBlocked",
    "UpstreamReconnectRequired",
    "Usage",
    "ZaiAccountError",
    "ZaiAuthError",
    "ZaiBadRequest",
    "ZaiClient",
    "ZaiConnectionError",
    "ZaiContentFiltered",
    "ZaiDeadlineExceeded",
    "ZaiError",
    "ZaiFileNotFound",
    "ZaiInferenceFailed",
    "ZaiInvalidRequest",
    "ZaiMalformedResponse",
    "ZaiPermissionDenied",
    "ZaiPromptTooLong",
    "ZaiQuotaExceeded",
    "ZaiRateLimited",
    "ZaiServerError",
    "ZaiTimeout",
    "ZaiTruncated",
    "classify",
    "key_fingerprint",
    "new_request_id",
]
