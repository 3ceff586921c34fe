"""One segment through the localization checks, as two pure steps around the agent call.

    glossary = GlossaryContext.of(document)            # once per request (None: no glossary)
    plan = plan_segment(i, text, target_lang="pl", glossary=glossary)
    # translate each of plan.texts (packed with other segments' texts, or one by one), with
    # suggestion_for([plan, ...]) in the strategy suggestion, + STRICT_INSTRUCTION on a retry
    result = finish_segment(plan, translations, target_lang="pl", glossary=glossary,
                            policy=Policy.report, attempt=1)
    result.decision: accept (deliver result.text) | retry (call again) | fail (result.text None)

ICU messages with plural/select are split into one text per sentence (`icu.units`); anything
else is one masked text. A segment with nothing to translate (only placeholders or markup) has
no texts and comes back unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from service.glossary.model import GlossaryDocument
from service.l10n import compliance, icu, qa
from service.l10n.compliance import Decision, Policy, TermHit
from service.l10n.protect import (
    STRICT_INSTRUCTION,
    TOKEN_RE,
    Masked,
    Restored,
    keep_edges,
    mask,
    restore,
)
from service.l10n.terms import TermIndex

_TOKEN_OR_SPACE = re.compile(r"⟦\d+⟧|[\W_\d]")


@dataclass(frozen=True, slots=True)
class GlossaryContext:
    """A glossary with its compiled term index, built once and shared by all segments."""

    document: GlossaryDocument
    index: TermIndex

    @classmethod
    def of(cls, document: GlossaryDocument) -> GlossaryContext:
        return cls(document, TermIndex.from_glossary(document))


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    index: int
    source: str
    message: icu.Message | None  # the parsed ICU message, or None for plain text
    units: tuple[Masked, ...]  # what goes to the model, masked
    hits: tuple[TermHit, ...] = ()
    forbidden: tuple[str, ...] = ()

    @property
    def texts(self) -> list[str]:
        return [unit.text for unit in self.units]


@dataclass(frozen=True, slots=True)
class SegmentResult:
    text: str | None  # None when the segment failed
    decision: Decision
    qa: qa.SegmentQA
    retry_instruction: str = ""  # add to the suggestion of the retry


def plan_segment(
    index: int, source: str, *, target_lang: str, glossary: GlossaryContext | None = None
) -> SegmentPlan:
    """Mask the segment (per ICU sentence if it is a plural/select message)."""
    dnt = glossary.index.dnt_spans if glossary else None
    message = icu.try_parse(source)
    if message is not None:
        units = tuple(mask(list(u.pieces), dnt=dnt) for u in icu.units(message))
    else:
        masked = mask(source.strip(), dnt=dnt)  # edges come back from the source
        units = (masked,) if _translatable(masked.text) else ()
    if glossary is None:
        return SegmentPlan(index, source, message, units)
    prose = _prose(units)
    hits = compliance.expected_in(prose, glossary.index, target_lang)
    forbidden = compliance.forbidden_for(glossary.document, prose, target_lang)
    return SegmentPlan(index, source, message, units, tuple(hits), tuple(forbidden))


def _prose(units: Sequence[Masked]) -> str:
    """The source text a glossary applies to: no placeholders, markup, URLs or code (a
    `{{role}}` is not the term "role"), do-not-translate terms kept."""
    return "\n".join(TOKEN_RE.sub(partial(_original_if_dnt, unit), unit.text) for unit in units)


def _original_if_dnt(unit: Masked, match: re.Match[str]) -> str:
    placeholder = unit.tokens.get(int(match.group(1) or match.group(2)))
    return placeholder.original if placeholder and placeholder.kind == "dnt" else " "


def _translatable(masked_text: str) -> bool:
    """Anything left to translate once tokens, digits and punctuation are set aside."""
    return bool(_TOKEN_OR_SPACE.sub("", masked_text))


def suggestion_for(plans: Sequence[SegmentPlan]) -> str:
    """The glossary instruction for one agent call carrying these segments' texts."""
    hits = list({(h.term, h.target): h for p in plans for h in p.hits}.values())
    forbidden = list(dict.fromkeys(f for p in plans for f in p.forbidden))
    return compliance.suggestion_text(hits, forbidden)


def finish_segment(
    plan: SegmentPlan,
    translations: Sequence[str],
    *,
    target_lang: str,
    glossary: GlossaryContext | None = None,
    policy: Policy = Policy.report,
    attempt: int = 1,
    notes: Sequence[qa.QaCode] = (),
) -> SegmentResult:
    """Restore, rebuild and check the model's `translations` (one per `plan.texts`).

    `notes`: codes the caller adds, e.g. `packing_failed` after a fallback to single calls.
    """
    if len(translations) != len(plan.units):
        raise ValueError(f"expected {len(plan.units)} translations, got {len(translations)}")
    restored = [restore(t, m) for t, m in zip(translations, plan.units, strict=True)]
    kinds = sum((unit.kinds for unit in plan.units), Counter[str]())
    placeholders = qa.placeholder_qa(restored, kinds)
    if not placeholders.ok:
        return _failed_or_retry(plan, placeholders, attempt, list(notes))
    text, filled, dropped = plan.source, [], []
    if plan.message is not None:
        try:
            rebuilt = icu.rebuild(plan.message, [r.parts for r in restored], target_lang)
        except icu.IcuError:
            codes = [qa.QaCode.icu_invalid, *notes]
            return _failed_or_retry(plan, placeholders, attempt, codes)
        text, filled, dropped = rebuilt.text, rebuilt.filled, rebuilt.dropped
    elif restored:
        text = keep_edges(plan.source, restored[0].text)
    report = _compliance(plan, text, restored, glossary, target_lang)
    decision = compliance.decide(report, policy, attempt) if report else Decision.accept
    delivered = None if decision is Decision.fail else text
    extra = [*notes, *([qa.QaCode.glossary_policy] if decision is Decision.fail else [])]
    segment_qa = qa.segment_report(
        plan.index,
        source=plan.source,
        target=delivered,
        placeholders=placeholders,
        glossary=qa.glossary_qa(report),
        attempts=attempt,
        plural_filled=filled,
        plural_dropped=dropped,
        extra_codes=extra,
    )
    hint = suggestion_for([plan]) if decision is Decision.retry else ""
    return SegmentResult(delivered, decision, segment_qa, hint)


def _compliance(
    plan: SegmentPlan,
    text: str,
    restored: list[Restored],
    glossary: GlossaryContext | None,
    lang: str,
) -> compliance.ComplianceReport | None:
    if glossary is None:
        return None
    scope = " ".join(r.free_text for r in restored)
    return compliance.check(text, list(plan.hits), glossary.document, lang, scope=scope)


def _failed_or_retry(
    plan: SegmentPlan, placeholders: qa.PlaceholderQA, attempt: int, codes: list[qa.QaCode]
) -> SegmentResult:
    decision = Decision.retry if attempt < compliance.MAX_ATTEMPTS else Decision.fail
    segment_qa = qa.segment_report(
        plan.index,
        source=plan.source,
        target=None,
        placeholders=placeholders,
        glossary=qa.GlossaryQA(),
        attempts=attempt,
        extra_codes=codes,
    )
    return SegmentResult(None, decision, segment_qa, STRICT_INSTRUCTION)
