"""Finding glossary terms in text: case sensitivity per entry, whole words, longest term first.

One compiled alternation per glossary (cached on the `TermIndex`), matched left to right without
overlaps, the way Z.ai and our simulator apply a glossary: in "Acme Cloud Console" the entry
"Acme Cloud Console" wins over "Acme Cloud" and "Acme".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from service.glossary.model import GlossaryDocument, GlossaryEntry

#: Languages written without spaces between words: terms match anywhere, not at word edges.
UNSPACED_LANGS = frozenset(["zh-CN", "zh-TW", "wyw", "yue", "ja", "th", "my"])


@dataclass(frozen=True, slots=True)
class TermMatch:
    entry: GlossaryEntry
    start: int
    end: int
    text: str  # as written in the text (may differ in case from entry.term)


def term_pattern(terms: Iterable[tuple[str, bool]], *, word_edges: bool = True) -> re.Pattern[str]:
    """One regex for (text, case_sensitive) terms: longest first, `(?i:…)` per insensitive term.

    Lookarounds rather than \\b so terms that start or end with punctuation ("C++") match too.
    """
    ordered = sorted({(t, cs) for t, cs in terms if t.strip()}, key=lambda p: -len(p[0]))
    alternatives = [re.escape(t) if cs else f"(?i:{re.escape(t)})" for t, cs in ordered]
    body = "|".join(alternatives) or r"(?!x)x"  # an empty glossary matches nothing
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)" if word_edges else f"(?:{body})")


class TermIndex:
    """The source-side matcher of a glossary's usable entries (forbidden ones are left out:
    they are what a translation must avoid, not what a source term asks for)."""

    def __init__(self, entries: Iterable[GlossaryEntry], *, source_lang: str = "en") -> None:
        self.entries = tuple(e for e in entries if not e.forbidden)
        self._by_key = {
            (e.term if e.case_sensitive else e.term.casefold()): e for e in self.entries
        }
        terms = ((e.term, e.case_sensitive) for e in self.entries)
        self._pattern = term_pattern(terms, word_edges=source_lang not in UNSPACED_LANGS)

    @classmethod
    def from_glossary(cls, glossary: GlossaryDocument) -> TermIndex:
        return cls(glossary.entries, source_lang=glossary.source_lang)

    def find(self, text: str) -> Iterator[TermMatch]:
        """Non-overlapping occurrences of glossary terms in `text`, left to right."""
        for match in self._pattern.finditer(text):
            found = match.group(0)
            entry = self._by_key.get(found) or self._by_key.get(found.casefold())
            if entry is not None:
                yield TermMatch(entry, match.start(), match.end(), found)

    def dnt_spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of do-not-translate terms, skipping those inside a longer translatable term."""
        return [(m.start, m.end) for m in self.find(text) if m.entry.do_not_translate]
