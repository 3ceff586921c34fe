"""The job store: accepting batches, claiming jobs under leases, their async ids and outcomes,
the completion."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent, Outcome
from service.pipeline.contract.states import TargetState
from service.pipeline.ports.memory import Remembered


@dataclass(frozen=True)
class Candidate:
    """A claimable job, as the fairness choice sees it."""

    job_id: str
    tenant_id: str


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
