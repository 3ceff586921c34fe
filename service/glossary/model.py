"""The normalized, format-independent glossary model and its canonical content hash.

`RawEntry`/`RawGlossary` are what format parsers produce: unvalidated, with source positions so
that `parse.build_document` can name the row/column of each problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from service.languages import SOURCE_LANGS, TARGET_LANGS

HASH_VERSION = 1

GLOSSARY_SOURCE_LANGS = SOURCE_LANGS - {"auto"}
GLOSSARY_LANGS = GLOSSARY_SOURCE_LANGS | TARGET_LANGS
_BY_FOLDED = {code.casefold(): code for code in GLOSSARY_LANGS}


def normalize_lang(code: str) -> str | None:
    """Z.ai's spelling of `code` ("zh_cn" → "zh-CN", "EN" → "en"), or None if unknown."""
    return _BY_FOLDED.get(code.strip().replace("_", "-").casefold())


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """A source term with its translations (language code → text) and flags.

    do_not_translate: the term is kept verbatim in every language (translations may be empty).
    forbidden: must not appear in translated text: in a listed language its translation (the
    unwanted rendering), in any other language the term itself (see `forbidden_text`).
    """

    term: str
    translations: Mapping[str, str] = field(default_factory=dict, hash=False)
    case_sensitive: bool = False
    do_not_translate: bool = False
    forbidden: bool = False
    note: str | None = None

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(sorted(self.translations.items())))
        object.__setattr__(self, "translations", frozen)

    @property
    def key(self) -> str:
        """Identity for duplicate detection: case-insensitive terms clash regardless of case."""
        return self.term if self.case_sensitive else self.term.casefold()

    def target_text(self, lang: str) -> str | None:
        """What the term should become in `lang`, or None if the entry does not cover it."""
        if self.do_not_translate:
            return self.term
        return self.translations.get(lang)

    def forbidden_text(self, lang: str) -> str | None:
        """The text a translation into `lang` must not contain, for forbidden entries."""
        if not self.forbidden:
            return None
        return self.translations.get(lang, self.term)

    def canonical(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "translations": dict(self.translations),
            "case_sensitive": self.case_sensitive,
            "do_not_translate": self.do_not_translate,
            "forbidden": self.forbidden,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class GlossaryDocument:
    """A validated glossary: entries are unique by `key` and sorted, so equality is by content."""

    source_lang: str
    entries: tuple[GlossaryEntry, ...]

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.entries, key=lambda e: (e.term, e.case_sensitive)))
        object.__setattr__(self, "entries", ordered)

    @property
    def target_langs(self) -> frozenset[str]:
        return frozenset(lang for e in self.entries for lang in e.translations)

    @property
    def languages(self) -> frozenset[str]:
        return self.target_langs | {self.source_lang}

    def canonical_bytes(self) -> bytes:
        body = {
            "version": HASH_VERSION,
            "source_lang": self.source_lang,
            "entries": [e.canonical() for e in self.entries],
        }
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return text.encode("utf-8")

    def content_hash(self) -> str:
        """sha256 hex of the canonical form: same content in any format or order, same hash."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class RawEntry:
    """An unvalidated entry as read from a file. `columns` maps a field name ("term",
    "translations.de", "note", ...) to its column label in tabular formats."""

    row: int | None
    term: str
    translations: tuple[tuple[str, str], ...] = ()
    case_sensitive: bool = False
    do_not_translate: bool = False
    forbidden: bool = False
    note: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class RawGlossary:
    source_lang: str | None
    entries: list[RawEntry]
    # The text encoding a CSV/TSV was read in ("utf-8" unless detected otherwise); None for
    # formats that are not plain text (XLSX) or declare their own (TBX, JSON).
    encoding: str | None = None


def resolve_lang(code: str, *, source: bool) -> str | None:
    """Z.ai's code for `code` if it is valid in that role (source or target), else None."""
    lang = normalize_lang(code)
    allowed = GLOSSARY_SOURCE_LANGS if source else TARGET_LANGS
    return lang if lang in allowed else None


def unknown_lang_message(code: str, *, source: bool) -> str:
    role = "source" if source else "target"
    message = f"unknown {role} language {code!r}; use a Z.ai code such as 'en', 'de' or 'zh-CN'"
    base = resolve_lang(code.replace("_", "-").split("-")[0], source=source)
    return f"{message} (did you mean {base!r}?)" if base else message
