"""The shape shared by every resource format: units out, translations in.

A format never translates and never masks placeholders: `extract` lists what needs translating,
`merge` writes the translations back into a copy of the original file. Both are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


class ResourceFormatError(ValueError):
    """A resource file that cannot be read or written; the message says where (line or key)."""


@dataclass(frozen=True)
class Unit:
    """One translatable string of a resource file.

    `id` is stable for the same input and unique within the file; `merge` takes translations by it.
    `plural` is the CLDR category ("one", "other", ...) when the unit is one form of a plural.
    """

    id: str
    text: str
    context: str | None = None
    note: str | None = None
    plural: str | None = None


class ResourceFormat(Protocol):
    """A localization file format (see docs/l10n-formats.md)."""

    name: str

    def extract(self, content: bytes) -> list[Unit]:
        """The translatable units, in document order."""
        ...

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        """`content` with each unit's text replaced by its translation, in `target_lang`.

        Ids missing from `translations` keep their source text; unknown ids are an error.
        """
        ...


def check_unique(units: Iterable[Unit]) -> list[Unit]:
    """The units as a list, or ResourceFormatError naming the first duplicated id."""
    seen: set[str] = set()
    result = []
    for unit in units:
        if unit.id in seen:
            raise ResourceFormatError(f"duplicate key {unit.id!r}")
        seen.add(unit.id)
        result.append(unit)
    return result


def check_known(translations: Mapping[str, str], ids: Iterable[str]) -> None:
    """Refuse translations for ids the file does not have: a caller bug, not a file problem."""
    unknown = set(translations) - set(ids)
    if unknown:
        raise ResourceFormatError(f"translations for unknown ids: {sorted(unknown)[:5]}")
