"""The translation memory: stored translations by key, and new entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


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
