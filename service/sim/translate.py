"""Deterministic fake translation: tagged with the target language, glossary terms applied."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

TermPairs = tuple[tuple[str, str], ...]

#: Model passes per strategy, reported as usage.total_calls (names suggest multi-pass workflows).
_CALLS_PER_STRATEGY = {"two_step": 2, "three_step": 3, "reflection": 2}


def fake_translate(text: str, target_lang: str, terms: Sequence[tuple[str, str]] = ()) -> str:
    """`[<target_lang>] ` + text, with each glossary source term replaced by its target term."""
    return f"[{target_lang}] {apply_glossary(text, tuple(terms))}"


def apply_glossary(text: str, terms: TermPairs) -> str:
    """Case-insensitive whole-word replacement; longest source term first, targets verbatim."""
    compiled = _compile(terms)
    if compiled is None:
        return text
    pattern, targets = compiled
    return pattern.sub(lambda m: targets.get(m.group(0).lower(), m.group(0)), text)


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
