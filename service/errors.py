"""The service's errors, split by what the caller does next, and the failure codes events carry.

Tree (``code`` in brackets)::

    ServiceError
    ├── Refused                  the job's languages fail at once, before any upstream call
    │   ├── Misconfigured            no retry helps
    │   │   ├── CredentialInvalid        [tenant.credential_invalid]
    │   │   ├── TrutoNotConfigured       [tenant.truto_not_configured]
    │   │   ├── GlossaryNotFound         [glossary.not_found]
    │   │   ├── GlossaryVersionMissing   [glossary.version_missing]
    │   │   ├── GlossarySourceMismatch   [glossary.source_mismatch]
    │   │   └── UnsupportedPair          [request.unsupported_pair]
    │   └── TenantBudgetExceeded     [quota.tenant_budget_exceeded] retryable: next month, or
    │                                a higher budget
    ├── UpstreamError            a call upstream failed for good: the language fails with the
    │                            adapter's `error_code` (Z.ai's tree: `service.zai.errors`)
    └── Transient                the operation waits and is tried again
        ├── StoreUnavailable         the database does not answer: pause, retry, lose nothing
        └── LeaseLost                another worker owns the job now: stop working on it

The core catches `UpstreamError` only; the Z.ai adapter's errors (`service.zai.errors`) are its
subclasses, and their `error_code` values are members of `FailureCode` too, so events, metrics
and docs/events.md use one vocabulary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class FailureCode(StrEnum):
    """Every `error_code` a `translation.failed` event can carry (docs/events.md lists them)."""

    # Upstream, as classified by the Z.ai client.
    zai_rate_limited = "zai.rate_limited"
    zai_quota_exceeded = "zai.quota_exceeded"
    zai_auth_failed = "zai.auth_failed"
    zai_account_unavailable = "zai.account_unavailable"
    zai_permission_denied = "zai.permission_denied"
    zai_bad_request = "zai.bad_request"
    zai_invalid_request = "zai.invalid_request"
    zai_file_not_found = "zai.file_not_found"
    zai_prompt_too_long = "zai.prompt_too_long"
    zai_content_filtered = "zai.content_filtered"
    zai_truncated = "zai.truncated"
    zai_inference_failed = "zai.inference_failed"
    zai_server_error = "zai.server_error"
    zai_timeout = "zai.timeout"
    zai_connection_error = "zai.connection_error"
    zai_malformed_response = "zai.malformed_response"
    zai_deadline_exceeded = "zai.deadline_exceeded"
    zai_error = "zai.error"
    # The connection to the tenant's account (Truto), as classified by the Z.ai client.
    upstream_reconnect_required = "upstream.reconnect_required"
    upstream_account_blocked = "upstream.account_blocked"
    # Misconfiguration, found before any upstream call.
    tenant_credential_invalid = "tenant.credential_invalid"
    tenant_truto_not_configured = "tenant.truto_not_configured"
    glossary_not_found = "glossary.not_found"
    glossary_version_missing = "glossary.version_missing"
    glossary_source_mismatch = "glossary.source_mismatch"
    request_unsupported_pair = "request.unsupported_pair"
    # Our own checks and limits.
    quota_tenant_budget_exceeded = "quota.tenant_budget_exceeded"
    qa_failed = "qa.failed"
    internal_attempts_exhausted = "internal.attempts_exhausted"

    @classmethod
    def of(cls, code: str) -> FailureCode:
        """The member for a classified upstream code; unknown ones are `zai.error`."""
        try:
            return cls(code)
        except ValueError:
            return cls.zai_error


class ServiceError(Exception):
    """Base of the service's own errors; the docstring of each class is its default message."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or type(self).__name__).strip()
        super().__init__(self.message)


class Refused(ServiceError):
    """The job is not run: each of its languages fails with this error's code."""

    code: ClassVar[FailureCode]
    retryable: ClassVar[bool] = False


class Misconfigured(Refused):
    """The job cannot run as configured."""


class CredentialInvalid(Misconfigured):
    """The tenant's stored Z.ai key cannot be decrypted; store it again."""

    code = FailureCode.tenant_credential_invalid


class TrutoNotConfigured(Misconfigured):
    """The tenant is connected through Truto, but this worker has no TRUTO_API_TOKEN."""

    code = FailureCode.tenant_truto_not_configured


class GlossaryNotFound(Misconfigured):
    """The requested glossary does not exist for this tenant."""

    code = FailureCode.glossary_not_found


class GlossaryVersionMissing(Misconfigured):
    """The glossary version the job was pinned to no longer exists."""

    code = FailureCode.glossary_version_missing


class GlossarySourceMismatch(Misconfigured):
    """The requested glossary is for another source language."""

    code = FailureCode.glossary_source_mismatch


class UnsupportedPair(Misconfigured):
    """The agent does not translate between these languages."""

    code = FailureCode.request_unsupported_pair


class TenantBudgetExceeded(Refused):
    """The tenant's monthly token budget does not cover this request."""

    code = FailureCode.quota_tenant_budget_exceeded
    retryable = True


class UpstreamError(ServiceError):
    """The upstream translation service failed the call."""

    #: What `translation.failed` carries, as `FailureCode.of(error_code)`: the adapter's class.
    error_code: ClassVar[str] = FailureCode.zai_error.value
    #: The call's glossary file is unknown upstream (expired, deleted): upload it again, once.
    file_refused: ClassVar[bool] = False

    def __init__(
        self, message: str | None = None, *, code: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code  # the upstream's own code (Z.ai's business code), or None
        self.retryable = retryable  # whether a later call may succeed


class Transient(ServiceError):
    """A passing condition: wait and try again."""


class StoreUnavailable(Transient):
    """The database does not answer."""


class LeaseLost(Transient):
    """Another worker holds the job's lease now."""
