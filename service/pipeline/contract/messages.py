"""Wire contract of the Kafka topics (v1): the request we consume, the events we publish."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.l10n.qa import QaReport
from service.languages import SOURCE_LANGS, STRATEGIES, TARGET_LANGS

CE_SPECVERSION = "1.0"
CE_SOURCE = "urn:zai-l10n:worker"
TYPE_COMPLETED: Final = "translation.completed"
TYPE_FAILED: Final = "translation.failed"
TYPE_DEAD_LETTER: Final = "translation.request.dead_lettered"


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    text: str


class ResourceFile(BaseModel):
    """A whole resource file: JSON, i18next, ARB, PO, XLIFF, Android, .strings or YAML."""

    model_config = ConfigDict(extra="forbid")

    format: str | None = Field(default=None, description="Detected from filename/content if unset")
    filename: str | None = Field(default=None, max_length=255)
    content_b64: str = Field(description="The file's bytes, base64-encoded")


class TranslationRequestV1(BaseModel):
    """A translation request as published by a platform team to `translation.requests`."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    tenant_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    source_lang: str = "auto"
    target_langs: list[str] = Field(min_length=1, max_length=50)
    text: str | None = None
    segments: list[Segment] | None = None
    file: ResourceFile | None = None
    glossary: str | None = None
    strategy: str = "general"
    instructions: str | None = Field(default=None, max_length=4000)
    qa_policy: Literal["report", "retry", "fail"] | None = Field(
        default=None, description="Glossary compliance policy; default: the service setting"
    )
    metadata: dict[str, Any] | None = None

    @field_validator("source_lang")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v not in SOURCE_LANGS:
            raise ValueError(f"unknown source_lang {v!r}")
        return v

    @field_validator("target_langs")
    @classmethod
    def _known_targets(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in TARGET_LANGS]
        if unknown:
            raise ValueError(f"unknown target_langs {unknown!r}")
        if len(set(v)) != len(v):
            raise ValueError("target_langs has duplicates")
        return v

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}")
        return v

    @model_validator(mode="after")
    def _one_content(self) -> TranslationRequestV1:
        given = [self.text is not None, self.segments is not None, self.file is not None]
        if sum(given) != 1:
            raise ValueError("exactly one of 'text', 'segments' or 'file' is required")
        if self.segments is not None:
            ids = [s.id for s in self.segments]
            if not ids:
                raise ValueError("segments is empty")
            if len(set(ids)) != len(ids):
                raise ValueError("segment ids must be unique")
        return self

    def content_chars(self) -> int:
        if self.text is not None:
            return len(self.text)
        if self.file is not None:
            return len(self.file.content_b64) * 3 // 4
        return sum(len(s.text) for s in self.segments or [])

    def content_hash(self) -> str:
        """SHA-256 of what makes two requests with one request_id the same request: every
        field but `metadata` (echoed, never read), fields left at their default counted as
        absent, `target_langs` as a set (docs/events.md, "Duplicates and conflicts")."""
        body = self.model_dump(mode="json", exclude={"metadata"}, exclude_defaults=True)
        body["target_langs"] = sorted(self.target_langs)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class Timings(BaseModel):
    queued_ms: int | None = None
    upstream_ms: int
    total_ms: int


class UsageV1(BaseModel):
    """What one (request, language) cost; the tenant's usage ledger sums exactly these."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    upstream_calls: int = 0
    memory_hits: int = 0
    source_chars: int = Field(default=0, description="Characters of the source units")
    packed_calls_saved: int = Field(
        default=0, description="Agent calls that packing short segments together avoided"
    )
    estimated_tokens: int = Field(
        default=0, description="Tokens the budget check reserved for this language (0: none)"
    )
    estimate: Literal["tokenizer", "characters"] | None = Field(
        default=None,
        description="How estimated_tokens was counted: Z.ai's tokenizer, or from characters "
        "because the tokenizer did not answer",
    )


class TranslatedSegment(BaseModel):
    id: str
    text: str | None = Field(description="None when the segment failed its checks (see qa)")


class _OutcomeV1(BaseModel):
    """What every outcome event (one per request and target language) carries."""

    type: str
    event_id: str = Field(description="Stable per (tenant, request, language): dedupe on it")
    request_id: str
    tenant_id: str
    source_lang: str
    target_lang: str
    metadata: dict[str, Any] | None = Field(default=None, description="The request's, echoed")


class TranslationCompletedV1(_OutcomeV1):
    type: Literal["translation.completed"] = TYPE_COMPLETED
    text: str | None = None
    segments: list[TranslatedSegment] | None = None
    file: ResourceFile | None = None
    failed_segments: list[str] = Field(
        default_factory=list, description="Ids of segments that failed their checks"
    )
    glossary_id: str | None = None
    glossary_version: int | None = None
    strategy: str
    usage: UsageV1
    timings: Timings
    qa: QaReport | None = None


class TranslationFailedV1(_OutcomeV1):
    type: Literal["translation.failed"] = TYPE_FAILED
    error_code: str = Field(description="A FailureCode; docs/events.md lists them all")
    message: str
    retryable: bool
    upstream_code: str | None = None


class DeadLetterV1(BaseModel):
    type: Literal["translation.request.dead_lettered"] = TYPE_DEAD_LETTER
    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    original_key: str | None = None
    original_headers: dict[str, str] = Field(default_factory=dict)
    original_value_b64: str
