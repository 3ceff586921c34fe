"""Deterministic fake translation: tagged with the target language, glossary terms applied.

Like a well-behaved model it copies masking tokens (`⟦N⟧`) and packing marker lines (`⟦§N⟧`)
unchanged and translates each packed section on its own. Content faults (`Corruption`) make it
misbehave the way models do: lose or repeat a placeholder, ignore the glossary, or (in packed
text) lose a marker line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from service.l10n.packing import split_sections

TermPairs = tuple[tuple[str, str], ...]

#: Model passes per strategy, reported as usage.total_calls (names suggest multi-pass workflows).
_CALLS_PER_STRATEGY = {"two_step": 2, "three_step": 3, "reflection": 2}

#: What the glossary never touches: masking tokens and packing markers.
_OPAQUE = re.compile(r"⟦[^⟦⟧\n]*⟧")
#: What a corrupting model loses or repeats: a masking token, else a raw placeholder.
_PLACEHOLDER = re.compile(r"⟦\s*\d+\s*⟧|\{\{[^{}]+\}\}|\{[\w.-]+\}|%(?:\d+\$)?[sd@]|<[^<>]+>")


class Corruption(StrEnum):
    none = "none"
    placeholder_drop = "placeholder_drop"  # the first placeholder of each section vanishes
    placeholder_duplicate = "placeholder_duplicate"  # ...or appears twice
    glossary_drop = "glossary_drop"  # glossary terms are not applied
    marker_drop = "marker_drop"  # packed text: the last marker line vanishes (sections merge)


def fake_translate(
    text: str,
    target_lang: str,
    terms: Sequence[tuple[str, str]] = (),
    corruption: Corruption = Corruption.none,
) -> str:
    """`[<target_lang>] ` + text, with each glossary source term replaced by its target term.

    Packed text (marker lines `⟦§N⟧`) is translated section by section, markers copied.
    """
    pairs = () if corruption is Corruption.glossary_drop else tuple(terms)
    sections = split_sections(text)
    if len(sections) == 1:
        return _translate_one(text, target_lang, pairs, corruption)
    out = []
    for marker, body in sections:
        lead, core, trail = _edges(body)
        translated = _translate_one(core, target_lang, pairs, corruption) if core else core
        out.append(f"{marker}{lead}{translated}{trail}")
    if corruption is Corruption.marker_drop and sections[-1][0]:
        out[-1] = out[-1].removeprefix(sections[-1][0]).lstrip("\r\n")
    return "".join(out)


def _edges(body: str) -> tuple[str, str, str]:
    core = body.strip("\r\n")
    start = body.index(core) if core else len(body)
    return body[:start], core, body[start + len(core) :]


def _translate_one(text: str, lang: str, terms: TermPairs, corruption: Corruption) -> str:
    return f"[{lang}] {corrupt(apply_glossary(text, terms), corruption)}"


def corrupt(text: str, corruption: Corruption) -> str:
    """Drop or duplicate the first placeholder (token, `{x}`, `{{x}}`, `%s`, tag) of `text`."""
    match = _PLACEHOLDER.search(text)
    if match is None or corruption not in (
        Corruption.placeholder_drop,
        Corruption.placeholder_duplicate,
    ):
        return text
    keep = match.group(0) * (2 if corruption is Corruption.placeholder_duplicate else 0)
    return text[: match.start()] + keep + text[match.end() :]


def apply_glossary(text: str, terms: TermPairs) -> str:
    """Case-insensitive whole-word replacement; longest source term first, targets verbatim.

    Tokens and markers (`⟦…⟧`) are left alone, whatever the terms.
    """
    compiled = _compile(terms)
    if compiled is None:
        return text
    pattern, targets = compiled

    def replace(chunk: str) -> str:
        return pattern.sub(lambda m: targets.get(m.group(0).lower(), m.group(0)), chunk)

    pieces = _OPAQUE.split(text)
    opaque = _OPAQUE.findall(text)
    out = [replace(pieces[0])]
    for token, piece in zip(opaque, pieces[1:], strict=True):
        out += [token, replace(piece)]
    return "".join(out)


@lru_cache(maxsize=256)
def _compile(terms: TermPairs) -> tuple[re.Pattern[str], dict[str, str]] | None:
    targets: dict[str, str] = {}
    for source, target in terms:
        key = source.strip().lower()
        if key and key not in targets:  # first pair of a duplicated term wins
            targets[key] = target
    if not targets:
        return None
    alternatives = "|".join(re.escape(s) for s in sorted(targets, key=len, reverse=True))
    # Lookarounds instead of \b so terms that start or end with punctuation ("C++") still match.
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), targets


def count_tokens(text: str) -> int:
    """Rough token estimate: 4 characters per token, rounded up."""
    return (len(text) + 3) // 4


def calls_for_strategy(strategy: str) -> int:
    return _CALLS_PER_STRATEGY.get(strategy, 1)
