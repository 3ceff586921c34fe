"""Text cut into fragments for display: the placeholders that must survive translation, and
the glossary terms that matter in it, each marked with its kind (pure; the console's job page
renders the fragments, escaped, as <mark> elements).

    highlight("Hello {name}, open the dashboard.", {"term": ["dashboard"]})
    → [("Hello ", None), ("{name}", "placeholder"), (", open the ", None),
       ("dashboard", "term"), (".", None)]

Placeholders are found as `protect.mask` finds them; terms case-insensitively, longest first,
never inside a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from service.l10n.protect import protected_spans

Fragment = tuple[str, str | None]


def highlight(text: str, marks: Mapping[str, Iterable[str]] | None = None) -> list[Fragment]:
    spans = [(start, end, "placeholder") for start, end, _ in protected_spans(text)]
    taken = [(start, end) for start, end, _ in spans]
    for kind, words in (marks or {}).items():
        for start, end in _occurrences(text, words):
            if not any(start < e and s < end for s, e in taken):
                spans.append((start, end, kind))
                taken.append((start, end))
    return _cut(text, sorted(spans))


def _occurrences(text: str, words: Iterable[str]) -> Iterable[tuple[int, int]]:
    unique = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not unique:
        return []
    pattern = re.compile("|".join(re.escape(w) for w in unique), re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


def _cut(text: str, spans: list[tuple[int, int, str]]) -> list[Fragment]:
    out: list[Fragment] = []
    at = 0
    for start, end, kind in spans:
        if start > at:
            out.append((text[at:start], None))
        out.append((text[start:end], kind))
        at = end
    if at < len(text):
        out.append((text[at:], None))
    return out
