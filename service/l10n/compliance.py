"""Glossary compliance of one segment: which terms the source asks for, and whether the
translation honours them.

- `expected_terms`: the glossary entries found in the source (case sensitivity per entry,
  whole words, longest term first), with the text each should become in the target language.
- `suggestion_text`: those terms as an instruction for the strategy suggestion, next to the
  glossary file (Z.ai applies the file; the suggestion also covers terms it may miss).
- `check`: hits and misses of the expected target terms, do-not-translate terms changed, and
  forbidden terms present. Matching tolerates inflection ("Rechnungen" for "Rechnung",
  "fakturę" for "faktura"): such hits are reported as `inflected`, never rejected.
- `decide`: what the tenant's policy (report | retry | fail) makes of a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.l10n.terms import UNSPACED_LANGS, TermIndex, term_pattern

#: Where suffixes change (case, number, gender), a term's words may lose a short ending; in
#: these languages the translation is searched for each word's stem instead.
_NON_INFLECTING = UNSPACED_LANGS | {"ko", "vi", "id", "ms", "Pinyin", "IPA", "en", "en-GB", "en-US"}
MAX_ATTEMPTS = 2  # the first call and one retry


@dataclass(frozen=True, slots=True)
class TermHit:
    """A glossary term found in the source; `target` is what the translation must contain."""

    term: str
    target: str
    do_not_translate: bool = False
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    hits: tuple[str, ...] = ()  # expected targets found as written
    inflected: tuple[str, ...] = ()  # found only in an inflected form: reported, accepted
    misses: tuple[str, ...] = ()  # expected targets not found
    dnt_violations: tuple[str, ...] = ()  # do-not-translate terms not found verbatim
    forbidden_found: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.misses or self.dnt_violations or self.forbidden_found)


def expected_terms(
    source_text: str, glossary: GlossaryDocument, source_lang: str, target_lang: str
) -> list[TermHit]:
    """The glossary entries in `source_text` that cover `target_lang`, each once, in order.

    A glossary written for another source language does not apply ("auto" accepts any).
    """
    if source_lang not in ("auto", glossary.source_lang):
        return []
    return expected_in(source_text, TermIndex.from_glossary(glossary), target_lang)


def expected_in(source_text: str, index: TermIndex, target_lang: str) -> list[TermHit]:
    """`expected_terms` with a prebuilt index (one per glossary, reused across segments)."""
    hits: dict[str, TermHit] = {}
    for match in index.find(source_text):
        target = match.entry.target_text(target_lang)
        if target and match.entry.key not in hits:
            hits[match.entry.key] = _hit(match.entry, target)
    return list(hits.values())


def _hit(entry: GlossaryEntry, target: str) -> TermHit:
    return TermHit(entry.term, target, entry.do_not_translate, entry.case_sensitive)


def suggestion_text(hits: list[TermHit], forbidden: list[str] | None = None) -> str:
    """The instruction appended to the strategy suggestion ("" when there is nothing to say)."""
    lines = []
    translate = [f'"{h.term}" → "{h.target}"' for h in hits if not h.do_not_translate]
    keep = [f'"{h.term}"' for h in hits if h.do_not_translate]
    if translate:
        lines.append("Use these glossary translations: " + "; ".join(translate) + ".")
    if keep:
        lines.append("Keep these terms exactly as written: " + ", ".join(keep) + ".")
    if forbidden:
        lines.append("Never use: " + ", ".join(f'"{f}"' for f in forbidden) + ".")
    return "\n".join(lines)


def forbidden_for(glossary: GlossaryDocument, source_text: str, target_lang: str) -> list[str]:
    """Forbidden renderings worth warning the model about: those of terms in the source."""
    entries = [e for e in glossary.entries if e.forbidden]
    pattern = _pattern(entries, glossary.source_lang)
    found = {m.group(0).casefold() for m in pattern.finditer(source_text)}
    texts = (e.forbidden_text(target_lang) for e in entries if e.term.casefold() in found)
    return [t for t in texts if t]


def check(
    translated: str,
    hits: list[TermHit],
    glossary: GlossaryDocument,
    target_lang: str,
    *,
    scope: str | None = None,
) -> ComplianceReport:
    """Compare `translated` (restored text) with the expected terms and the forbidden ones.

    `scope` is the text searched for forbidden terms, by default `translated`; pass
    `Restored.free_text` so URLs or code copied from the source do not count.
    """
    found: list[str] = []
    inflected: list[str] = []
    misses: list[str] = []
    violations: list[str] = []
    for hit in hits:
        state = _presence(translated, hit, target_lang)
        if state == "missing" and hit.do_not_translate:
            violations.append(hit.term)
        else:
            {"exact": found, "inflected": inflected, "missing": misses}[state].append(hit.target)
    forbidden = _forbidden(scope if scope is not None else translated, glossary, target_lang)
    return ComplianceReport(
        tuple(found), tuple(inflected), tuple(misses), tuple(violations), tuple(forbidden)
    )


def _presence(text: str, hit: TermHit, lang: str) -> str:
    """ "exact", "inflected" or "missing"; do-not-translate terms must appear verbatim."""
    spaced = lang not in UNSPACED_LANGS
    pattern = term_pattern([(hit.target, hit.case_sensitive)], word_edges=spaced)
    if pattern.search(text):
        return "exact"
    if hit.do_not_translate or not spaced:
        return "missing"
    folded = text.casefold()
    if _stem_match(folded, hit.target.casefold(), inflecting=lang not in _NON_INFLECTING):
        return "inflected"
    return "missing"


def _stem_match(text: str, target: str, *, inflecting: bool) -> bool:
    """Every word of `target`, in order, starts a word of `text`: whole (a suffix added, as in
    "invoices") or, in inflecting languages, without its last one or two letters."""
    stems = [_stem(word) if inflecting else word for word in target.split()]
    gaps = r"\w*\W+(?:\w+\W+){0,2}"  # up to two extra words between a term's words
    regex = gaps.join(rf"(?<!\w){re.escape(stem)}" for stem in stems) + r"\w*"
    return re.search(regex, text) is not None


def _stem(word: str) -> str:
    cut = 1 if len(word) <= 5 else 2
    return word[:-cut] if len(word) - cut >= 3 else word


def _forbidden(text: str, glossary: GlossaryDocument, lang: str) -> list[str]:
    entries = [e for e in glossary.entries if e.forbidden]
    found = []
    for entry in entries:
        bad = entry.forbidden_text(lang)
        if bad and _pattern([entry], lang, bad).search(text):
            found.append(bad)
    return found


def _pattern(entries: list[GlossaryEntry], lang: str, text: str | None = None) -> re.Pattern[str]:
    terms = [(text if text is not None else e.term, e.case_sensitive) for e in entries]
    return term_pattern(terms, word_edges=lang not in UNSPACED_LANGS)


class Policy(StrEnum):
    """What a compliance problem (miss, changed do-not-translate term, forbidden term) does."""

    report = "report"  # keep the translation, report the problem
    retry = "retry"  # ask once more, then keep the better-or-last translation and report
    fail = "fail"  # ask once more, then fail the segment


class Decision(StrEnum):
    accept = "accept"
    retry = "retry"
    fail = "fail"


def decide(report: ComplianceReport, policy: Policy, attempt: int) -> Decision:
    """`attempt` is the number (1-based) of the attempt that produced `report`."""
    if report.clean or policy is Policy.report:
        return Decision.accept
    if attempt < MAX_ATTEMPTS:
        return Decision.retry
    return Decision.fail if policy is Policy.fail else Decision.accept
