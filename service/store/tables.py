"""Database tables (SQLModel): persistence shapes only; API and pipeline have their own models.

Ids are strings so SQLite and PostgreSQL store them alike; times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.store.types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Glossary(SQLModel, table=True):
    """A tenant's named glossary. Deleting is soft: versions stay readable for jobs in flight."""

    __tablename__ = "glossary"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_glossary_tenant_name"),)

    id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(index=True, max_length=100)
    name: str = Field(max_length=200)
    source_lang: str = Field(max_length=16)
    is_default: bool = False
    current_version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GlossaryVersion(SQLModel, table=True):
    """An immutable snapshot of a glossary's entries."""

    __tablename__ = "glossary_version"
    __table_args__ = (
        UniqueConstraint("glossary_id", "version", name="uq_version_glossary_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    glossary_id: str = Field(foreign_key="glossary.id", max_length=36)
    version: int
    source_lang: str = Field(max_length=16)
    content_hash: str = Field(max_length=64)
    entry_count: int
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GlossaryEntry(SQLModel, table=True):
    """One term of one version, with its translations keyed by language code."""

    __tablename__ = "glossary_entry"
    __table_args__ = (Index("ix_entry_version_position", "version_id", "position", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="glossary_version.id")
    position: int
    term: str
    translations: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    case_sensitive: bool = False
    do_not_translate: bool = False
    forbidden: bool = False
    note: str | None = None


class ZaiFile(SQLModel, table=True):
    """The Z.ai upload cache: one compiled glossary file per (account, version, language pair).

    The unique key is what makes an upload happen once across worker processes: whoever inserts
    the row in state `uploading` owns the upload; the others wait for `ready`.
    """

    __tablename__ = "zai_file"
    __table_args__ = (
        UniqueConstraint(
            "account", "version_id", "source_lang", "target_lang", name="uq_zai_file_key"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=64)
    version_id: int = Field(foreign_key="glossary_version.id")
    source_lang: str = Field(max_length=16)
    target_lang: str = Field(max_length=16)
    state: str = Field(max_length=16)
    file_id: str | None = Field(default=None, max_length=200)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uploaded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored hashed. `tenant_id` None means an admin token."""

    __tablename__ = "api_token"

    id: str = Field(primary_key=True, max_length=32)
    tenant_id: str | None = Field(default=None, index=True, max_length=100)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TenantCredential(SQLModel, table=True):
    """A tenant's own Z.ai API key, encrypted at rest; only the last four characters are shown."""

    __tablename__ = "tenant_credential"

    tenant_id: str = Field(primary_key=True, max_length=100)
    provider: str = Field(primary_key=True, max_length=16)
    ciphertext: str
    last4: str = Field(max_length=4)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TenantSigningSecret(SQLModel, table=True):
    """A tenant that requires signed requests, and the secret they are signed with, encrypted
    at rest like keys (Fernet, CREDENTIALS_KEY). Never shown, not even in part. A rotation
    keeps the previous secret valid until `previous_valid_until` (docs/events.md)."""

    __tablename__ = "tenant_signing_secret"

    tenant_id: str = Field(primary_key=True, max_length=100)
    ciphertext: str
    previous_ciphertext: str | None = None
    previous_valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it announces, relayed to Kafka
    afterwards, so a committed change is never left unannounced (transactional outbox)."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # A relay claims rows before sending so two relays (API and worker, several replicas) never
    # send the same row; a claim that outlives its relay expires and the row is sent again.
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Job(SQLModel, table=True):
    """One translation request, made durable before its Kafka offset is committed (the inbox).

    `state`: queued → running → done. A running job whose lease expired (its worker died) is
    claimed again; the per-language rows below say what is already finished or submitted.
    """

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id", name="uq_job_tenant_request"),
        Index("ix_job_state_created", "state", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(max_length=100)
    request_id: str = Field(max_length=200)
    state: str = Field(max_length=16)
    request: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # TranslationRequestV1.content_hash(): a re-sent request_id with another hash is a
    # conflict, not a duplicate. NULL for jobs accepted before migration 0005.
    request_hash: str | None = Field(default=None, max_length=64)
    glossary_id: str | None = Field(default=None, max_length=36)
    glossary_version: int | None = None
    source_topic: str = Field(max_length=200)
    source_partition: int
    source_offset: int
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The W3C trace context (traceparent, tracestate) of the request's intake: the job's spans
    # continue that trace in whichever worker runs it, however much later.
    trace_context: dict[str, str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class JobTarget(SQLModel, table=True):
    """One target language of a job: its upstream async ids as soon as known, then its outcome."""

    __tablename__ = "job_target"

    job_id: str = Field(foreign_key="job.id", primary_key=True, max_length=36)
    target_lang: str = Field(primary_key=True, max_length=16)
    state: str = Field(max_length=16)  # pending | completed | failed
    # unit key -> async id, persisted the moment Z.ai returns it so a restart resumes polling
    async_ids: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # the completed/failed event body, published again verbatim for duplicates
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MemoryEntry(SQLModel, table=True):
    """Translation memory: an exact match on (normalized source, pair, glossary hash, strategy)."""

    __tablename__ = "translation_memory"

    key: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(index=True, max_length=100)
    target_text: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # For the console's memory search (NULL for entries stored before migration 0010): the
    # source as sent, the pair, and the glossary version the translation was made with.
    source_text: str | None = None
    source_lang: str | None = Field(default=None, max_length=16)
    target_lang: str | None = Field(default=None, max_length=16)
    glossary_id: str | None = Field(default=None, max_length=36)
    glossary_version: int | None = None


class ConnectionKind(StrEnum):
    """How a tenant reaches Z.ai."""

    service = "service"  # the service's own key (ZAI_API_KEY)
    zai_key = "zai_key"  # the tenant's own key, encrypted in tenant_credential
    truto = "truto"  # the tenant's Z.ai account linked in Truto: no key held here


class TenantConnection(SQLModel, table=True):
    """A tenant's chosen connection. No row: its own key if one is stored, else the service's
    (the behaviour from before connections existed)."""

    __tablename__ = "tenant_connection"

    tenant_id: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=16)
    integrated_account_id: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TenantSettings(SQLModel, table=True):
    """Per-tenant choices that requests may still override."""

    __tablename__ = "tenant_settings"

    tenant_id: str = Field(primary_key=True, max_length=100)
    qa_glossary_policy: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UsageLedger(SQLModel, table=True):
    """What a tenant's completed translations used, per UTC day and language pair.

    Added to in the completion transaction of each job, from the very event bodies that
    transaction puts in the outbox (service/store/usage.py): it cannot drift from the events
    nor count a job twice. Token columns are 64-bit: a month of a busy tenant adds up.
    """

    __tablename__ = "usage_ledger"

    tenant_id: str = Field(primary_key=True, max_length=100)
    day: date = Field(primary_key=True)
    source_lang: str = Field(primary_key=True, max_length=16)
    target_lang: str = Field(primary_key=True, max_length=16)
    translations: int = Field(default=0, sa_type=BigInteger)  # completed (request, language)
    upstream_calls: int = Field(default=0, sa_type=BigInteger)
    prompt_tokens: int = Field(default=0, sa_type=BigInteger)
    completion_tokens: int = Field(default=0, sa_type=BigInteger)
    total_tokens: int = Field(default=0, sa_type=BigInteger)
    source_chars: int = Field(default=0, sa_type=BigInteger)
    memory_hits: int = Field(default=0, sa_type=BigInteger)
    packed_calls_saved: int = Field(default=0, sa_type=BigInteger)
    estimated_tokens: int = Field(default=0, sa_type=BigInteger)
    character_estimates: int = Field(default=0, sa_type=BigInteger)  # of those translations


class TenantBudget(SQLModel, table=True):
    """A tenant's monthly token budget (calendar month, UTC), set by an admin. No row: none.

    Its row is also the lock that makes reservations of one tenant one at a time."""

    __tablename__ = "tenant_budget"

    tenant_id: str = Field(primary_key=True, max_length=100)
    monthly_tokens: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BudgetReservation(SQLModel, table=True):
    """Tokens a job admitted under its tenant's budget holds until its completion, which
    deletes the row in the same transaction that adds the job's usage to the ledger."""

    __tablename__ = "budget_reservation"

    job_id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(index=True, max_length=100)
    tokens: int = Field(sa_type=BigInteger)
    per_language: int = Field(sa_type=BigInteger)
    method: str = Field(max_length=16)  # tokenizer | characters
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
