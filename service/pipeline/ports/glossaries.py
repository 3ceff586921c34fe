"""Glossaries: the version a job is pinned to, its document, and its files uploaded upstream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from service.glossary.model import GlossaryDocument
from service.pipeline.ports.upstream import Translator


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
