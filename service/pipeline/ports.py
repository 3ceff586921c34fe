"""What the pipeline needs from the outside world, as protocols; adapters live elsewhere.

SQL adapters are in `service.store`, the Kafka ones in `service.kafka`, the translator is
`service.zai.ZaiClient`; `tests/unit/pipeline/fakes.py` has in-memory ones. Every store method
raises `service.errors.StoreUnavailable` when the database does not answer, and nothing else
for that case, so the core can pause and retry without knowing any driver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from service.glossary.model import GlossaryDocument
from service.l10n.compliance import Policy
from service.pipeline.contracts import TranslationRequestV1
from service.pipeline.fairness import Candidate
from service.pipeline.outcomes import OutboundEvent, Outcome
from service.pipeline.states import JobState, TargetState
from service.zai import FileObject, PendingTask, RetryPolicy, TranslateRequest, Translation

# --- jobs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One target language of a job as stored: its state, outcome and known async ids."""

    lang: str
    state: TargetState
    outcome: dict[str, Any] | None = None
    async_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds a lease on, with everything needed to run it."""

    id: str
    tenant_id: str
    request_id: str
    request: TranslationRequestV1
    created_at: datetime
    attempts: int
    glossary_id: str | None
    glossary_version: int | None
    targets: Sequence[Target]
    owner: str  # the worker holding the lease: the one that claimed it
    # W3C trace context of the request's intake, kept with the job across the database hop.
    trace: Mapping[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> list[str]:
        return [t.lang for t in self.targets if t.state is TargetState.pending]


@dataclass(frozen=True)
class Arrival:
    """A valid request read from the requests topic, where it was read, and its W3C trace
    context (the intake span's, or the message's own while tracing is off).

    `conflict` builds the dead letter published instead of a job when the request_id is
    already taken by other content; it gets the stored content hash (the intake builds it,
    as only the intake holds the message's original bytes).
    """

    request: TranslationRequestV1
    topic: str
    partition: int
    offset: int
    conflict: Callable[[str], OutboundEvent]
    trace: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return self.request.content_hash()


@dataclass(frozen=True)
class Accepted:
    """What a batch became: new jobs, duplicates (whose stored events were re-sent when the
    job had finished), and conflicts (a request_id reused with other content: dead-lettered)."""

    created: int = 0
    duplicates: int = 0
    republished: int = 0
    conflicts: int = 0
    dead_lettered: int = 0

    def __add__(self, other: Accepted) -> Accepted:
        return Accepted(
            self.created + other.created,
            self.duplicates + other.duplicates,
            self.republished + other.republished,
            self.conflicts + other.conflicts,
            self.dead_lettered + other.dead_lettered,
        )

    @property
    def events(self) -> int:
        """Rows the batch put in the outbox (dead letters, conflicts, republished results)."""
        return self.republished + self.dead_lettered + self.conflicts


@dataclass(frozen=True)
class Completion:
    """A finished job: the fresh outcome bodies to store, and every language's result event."""

    job_id: str
    owner: str
    outcomes: Mapping[str, Mapping[str, Any]]
    events: Sequence[OutboundEvent]
    # The job's new memory entries (by key), written in the same transaction.
    tenant_id: str = ""
    memory: Mapping[str, Remembered] = field(default_factory=dict)


class JobStore(Protocol):
    async def accept(
        self,
        arrivals: Sequence[Arrival],
        dead_letters: Sequence[OutboundEvent],
        results_topic: str,
    ) -> Accepted:
        """In one transaction: a job per new (tenant, request_id), pinned to the glossary version
        current now; the dead letters; for a duplicate (same content hash) of a finished job,
        its stored events; for a conflict (another content hash), `arrival.conflict(stored)`."""
        ...

    async def backlog(self) -> int:
        """Jobs accepted and not done, across all workers."""
        ...

    async def candidates(self, limit: int) -> list[Candidate]:
        """Claimable jobs, oldest first: queued, or running with an expired lease."""
        ...

    async def claim(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> list[ClaimedJob]:
        """Claim these jobs in one statement; returns those this owner won."""
        ...

    async def claim_next(
        self,
        choose: Callable[[list[Candidate]], list[Candidate]],
        limit: int,
        owner: str,
        lease: timedelta,
    ) -> list[ClaimedJob]:
        """`candidates(limit)`, then `claim` of those `choose` picks (a pure function: the
        store may call it in its own thread), in one round trip to the database."""
        ...

    async def renew(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> set[str]:
        """Extend the leases; returns the ids this owner still holds."""
        ...

    async def release(self, job_ids: Sequence[str], owner: str) -> None:
        """Hand jobs back (shutdown): queued again for any worker."""
        ...

    async def save_async_id(
        self, job_id: str, lang: str, call_key: str, async_id: str, owner: str
    ) -> bool:
        """Remember an upstream task before polling it, so a restart resumes the poll; only
        while `owner` holds the job. False (nothing written) when another worker has claimed
        it: that worker read the job's async ids when it claimed, so this one would be lost
        to it (and paid for again) if it were written later."""
        ...

    async def finish_target(self, job_id: str, lang: str, outcome: Outcome) -> None:
        """Store one language's outcome ahead of the job's completion."""
        ...

    async def complete(self, completion: Completion) -> bool:
        """In one transaction: the fresh outcomes (of languages still pending), the events in
        the outbox, the job done, its memory entries. False (nothing written but the memory
        entries) if the owner no longer holds it."""
        ...


# --- memory, tenants, glossaries -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remembered:
    """A new memory entry: the translation, and what the console's memory search shows of it
    (the source as sent, the pair, the glossary version that made it)."""

    target_text: str
    source_text: str
    source_lang: str
    target_lang: str
    glossary_id: str | None = None
    glossary_version: int | None = None


class Memory(Protocol):
    async def recall(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored translations of these keys (missing keys are absent)."""
        ...

    async def remember(self, tenant_id: str, entries: Mapping[str, Remembered]) -> None:
        """Store new entries; keys that exist already are kept as they are."""
        ...


class Translator(Protocol):
    """One upstream account: Z.ai's agent and file API (ZaiClient implements it, directly or
    through Truto's proxy)."""

    @property
    def key_fingerprint(self) -> str: ...

    async def submit(self, request: TranslateRequest) -> Translation | PendingTask: ...

    async def poll(self, async_id: str, *, glossary: str | None = None) -> Translation:
        """The task's result; `glossary`: the file id it was submitted with, so a refusal of
        that file reads as ZaiFileNotFound (docs/zai-client.md, "A refused file")."""
        ...

    async def upload_file(
        self, filename: str, content: bytes, *, purpose: str = ...
    ) -> FileObject: ...

    async def can_delete_files(self) -> bool:
        """False where the connection offers no file delete (Truto's proxy): no eviction."""
        ...

    async def delete_file(self, file_id: str) -> bool: ...

    async def count_tokens(
        self, text: str, *, retry: RetryPolicy | None = None, http_timeout: float | None = None
    ) -> int:
        """Z.ai's tokenizer: the tokens of `text` as one user message."""
        ...


class Tenants(Protocol):
    async def translator(self, tenant_id: str) -> Translator:
        """The upstream account the tenant uses; raises CredentialInvalid if unusable."""
        ...

    async def policy(self, tenant_id: str) -> Policy | None:
        """The tenant's glossary QA policy, None when it has not set one."""
        ...


@dataclass(frozen=True)
class SigningKeys:
    """A tenant that requires signed requests: the secrets a signature may be made with.
    `secrets` empty means its secret cannot be decrypted (CREDENTIALS_KEY rotated away or
    unset): every request is refused until the secret is stored again (fail closed)."""

    secrets: tuple[str, ...]
    # The previous secret, kept through a rotation's grace period: valid until then.
    previous: str | None = None
    previous_until: datetime | None = None


class SigningSecrets(Protocol):
    async def signing_keys(self, tenant_ids: Collection[str]) -> dict[str, SigningKeys]:
        """The tenants among these that require signed requests (the others are absent)."""
        ...


@dataclass(frozen=True)
class GlossaryPin:
    """The glossary version a job is pinned to."""

    glossary_id: str
    version: int
    version_id: int
    content_hash: str
    source_lang: str


class Glossaries(Protocol):
    async def pinned(self, glossary_id: str, version: int) -> GlossaryPin | None:
        """The pinned version, or None if it no longer exists."""
        ...

    async def document(self, pin: GlossaryPin) -> GlossaryDocument: ...


@dataclass(frozen=True)
class PairKey:
    """One compiled glossary file: per upstream account, version and language pair."""

    account: str
    version_id: int
    source_lang: str
    target_lang: str


DocLoader = Callable[[], Awaitable[GlossaryDocument]]


class GlossaryFiles(Protocol):
    """The upload cache: one upload per (account, version, pair), its file id reused."""

    async def ensure(self, api: Translator, key: PairKey, load: DocLoader) -> str | None:
        """The file id for `key`, uploading first if needed; None if the pair has no terms."""
        ...

    async def invalidate(self, key: PairKey, file_id: str) -> None:
        """Z.ai forgot `file_id`: the next `ensure` uploads again."""
        ...


# --- budgets -------------------------------------------------------------------------------


#: How a token count before a call was made: Z.ai's tokenizer, or from characters.
EstimateMethod = Literal["tokenizer", "characters"]


@dataclass(frozen=True)
class Held:
    """A job's reservation: tokens per target language, and how they were counted."""

    per_language: int
    method: EstimateMethod


@dataclass(frozen=True)
class Standing:
    """A tenant's monthly token budget now: `spent` is this month's usage ledger, `reserved`
    what jobs admitted and not yet completed hold; `held` is the asking job's reservation."""

    limit: int
    spent: int
    reserved: int
    held: Held | None = None

    @property
    def remaining(self) -> int:
        return self.limit - self.spent - self.reserved


class Budgets(Protocol):
    """Monthly token budgets per tenant. A reservation is released in the job's completion
    transaction, the one that adds its usage to the ledger (JobStore.complete)."""

    async def limit(self, tenant_id: str) -> int | None:
        """The tenant's monthly budget in tokens; None: no budget (cached for a few seconds)."""
        ...

    async def standing(self, tenant_id: str, job_id: str) -> Standing | None:
        """The budget's standing now, with this job's reservation; None without a budget."""
        ...

    async def reserve(
        self,
        tenant_id: str,
        job_id: str,
        per_language: int,
        languages: int,
        method: EstimateMethod,
    ) -> tuple[bool, Standing | None]:
        """Atomically (one tenant at a time): reserve `per_language * languages` tokens for the
        job if what is left covers them. (True, standing after) when reserved, or held already,
        or the tenant has no budget (standing None); (False, standing) when refused."""
        ...


# --- outbox --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row claimed for sending; its headers were fixed when it was written."""

    id: int
    topic: str
    key: str | None
    payload: Mapping[str, Any]
    headers: Mapping[str, str]
    body: bytes | None = None  # the payload's JSON as stored, when the store has it at hand


class Outbox(Protocol):
    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        """Unsent rows in id order, claimed for `relay` (exclusive across relays)."""
        ...

    async def mark_sent(self, ids: Sequence[int]) -> None:
        """Record these rows sent; may be deferred to a later write (see `settle`)."""
        ...

    async def settle(self) -> None:
        """Every deferred "sent" written now: a relay settles before it claims, so it never
        claims (and sends again) a row it sent whose mark is still waiting."""
        ...


__all__ = [
    "Accepted",
    "Arrival",
    "Budgets",
    "ClaimedJob",
    "Completion",
    "DocLoader",
    "EstimateMethod",
    "Glossaries",
    "GlossaryFiles",
    "GlossaryPin",
    "Held",
    "JobState",
    "JobStore",
    "Memory",
    "Outbox",
    "PairKey",
    "PendingEvent",
    "Remembered",
    "SigningKeys",
    "SigningSecrets",
    "Standing",
    "Target",
    "Tenants",
    "Translator",
]
