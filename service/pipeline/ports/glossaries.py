"""Glossaries: the version a job is pinned to, its document, and the rows of its files uploaded
upstream (the upload cache)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.glossary.cache_policy import CachedFile
from service.glossary.model import GlossaryDocument
from service.pipeline.contract.states import FileState


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


@dataclass(frozen=True)
class FileRecord:
    """A row of the upload cache, as read: one per `PairKey`; its lease makes one upload."""

    id: int
    state: FileState
    file_id: str | None  # None in `ready`: the pair has no terms
    uploaded_at: datetime | None
    last_used_at: datetime | None
    lease_expires_at: datetime | None


class GlossaryFileRecords(Protocol):
    """The upload cache's rows: whoever inserts a key's row (or takes an expired one over)
    uploads; the others wait until it is `ready`. The decisions are the core's
    (`service.pipeline.translation.glossary_files`)."""

    async def find(self, key: PairKey) -> FileRecord | None: ...

    async def insert_claim(self, key: PairKey, owner: str, until: datetime) -> int | None:
        """A new row, `uploading` under `owner`'s lease; None if another was inserted first."""
        ...

    async def take_over(self, record: FileRecord, owner: str, until: datetime) -> bool:
        """Claim the row if it is still as read (state and lease): only one claimant wins."""
        ...

    async def touch(self, row_id: int, now: datetime) -> None:
        """Mark the row used (for eviction, least recently used first)."""
        ...

    async def mark_ready(self, row_id: int, file_id: str | None, now: datetime) -> None: ...

    async def set_state(self, row_id: int, state: FileState) -> None:
        """`failed`, `deleted`: and no lease."""
        ...

    async def ready_files(self, account: str) -> list[CachedFile]:
        """The account's files in use (ready, with a file id), for eviction."""
        ...

    async def superseded(self, key: PairKey, current_row: int) -> list[tuple[int, str | None]]:
        """(row, file id) of the same glossary's other versions, same account and pair,
        ready or stale: no longer needed once `current_row` is ready."""
        ...

    async def invalidate(self, key: PairKey, file_id: str) -> None:
        """Z.ai forgot `file_id`: the row turns `stale`, so the next look-up uploads again."""
        ...
