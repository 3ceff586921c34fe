from __future__ import annotations

import pytest

from service.glossary.compile import term_pairs
from service.l10n.compliance import Decision, Policy
from service.l10n.protect import STRICT_INSTRUCTION
from service.l10n.qa import QaCode
from service.l10n.segment import (
    GlossaryContext,
    SegmentResult,
    finish_segment,
    plan_segment,
    suggestion_for,
)
from service.sim.translate import Corruption, fake_translate


def run(
    text: str,
    lang: str,
    ctx: GlossaryContext | None = None,
    corruption: Corruption = Corruption.none,
    policy: Policy = Policy.report,
    attempt: int = 1,
) -> SegmentResult:
    plan = plan_segment(0, text, target_lang=lang, glossary=ctx)
    pairs = term_pairs(ctx.document, "en", lang) if ctx else []
    translations = [fake_translate(t, lang, pairs, corruption) for t in plan.texts]
    return finish_segment(
        plan, translations, target_lang=lang, glossary=ctx, policy=policy, attempt=attempt
    )


def test_plain_segment(acme_ctx: GlossaryContext) -> None:
    result = run("Download your invoice, {name}.", "de", acme_ctx)
    assert result.decision is Decision.accept
    assert result.text == "[de] herunterladen your Rechnung, {name}."
    assert result.qa.glossary.hits == ["herunterladen", "Rechnung"]
    assert result.qa.status == "ok"


def test_dnt_terms_are_masked_and_counted(acme_ctx: GlossaryContext) -> None:
    plan = plan_segment(0, "Welcome to Acme Cloud", target_lang="de", glossary=acme_ctx)
    assert plan.texts == ["Welcome to ⟦1⟧"]
    assert run("Welcome to Acme Cloud", "de", acme_ctx).qa.glossary.hits == ["Acme Cloud"]


def test_nothing_to_translate_comes_back_unchanged() -> None:
    for text in ("{0}", "<br/>", "  {a} - {b}  ", ""):
        plan = plan_segment(0, text, target_lang="de")
        assert plan.units == ()
        result = finish_segment(plan, [], target_lang="de")
        assert result.text == text and result.decision is Decision.accept


def test_icu_segment_gets_target_categories() -> None:
    result = run("{n, plural, one {# file} other {# files}}", "pl")
    assert result.text == (
        "{n, plural, one {[pl] # file} few {[pl] # files} many {[pl] # files} other {[pl] # files}}"
    )
    assert result.qa.plural_filled == ["n:few", "n:many"]
    assert result.qa.status == "warning" and QaCode.plural_filled in result.qa.codes


def test_placeholder_corruption_retries_then_fails() -> None:
    first = run("Hi {name}", "de", corruption=Corruption.placeholder_drop)
    assert first.decision is Decision.retry and first.text is None
    assert first.retry_instruction == STRICT_INSTRUCTION
    assert first.qa.placeholders.missing == ["{name}"]
    second = run("Hi {name}", "de", corruption=Corruption.placeholder_duplicate, attempt=2)
    assert second.decision is Decision.fail and second.text is None
    assert second.qa.status == "failed"
    assert second.qa.codes == [QaCode.placeholder_duplicated, QaCode.retried]


def test_icu_units_are_translated_separately() -> None:
    plan = plan_segment(0, "{n, plural, one {# file} other {# files}}", target_lang="de")
    result = finish_segment(plan, ["⟦1⟧ Datei", "⟦1⟧ Dateien"], target_lang="de")
    assert result.text == "{n, plural, one {# Datei} other {# Dateien}}"
    nested = plan_segment(
        0, "{g, select, a {x {n, plural, other {#}}} other {y}}", target_lang="de"
    )
    assert nested.texts == ["x ⟦1⟧", "y"]


def test_a_lost_hash_in_a_plural_branch_fails_the_segment() -> None:
    plan = plan_segment(0, "{n, plural, one {# file} other {# files}}", target_lang="de")
    result = finish_segment(plan, ["Datei", "⟦1⟧ Dateien"], target_lang="de", attempt=2)
    assert result.decision is Decision.fail and result.qa.placeholders.missing == ["#"]


def test_glossary_policy(acme_ctx: GlossaryContext) -> None:
    text = "Download your invoice"
    report = run(text, "de", acme_ctx, Corruption.glossary_drop)
    assert report.decision is Decision.accept and report.qa.status == "warning"
    assert report.qa.glossary.misses == ["herunterladen", "Rechnung"]
    retry = run(text, "de", acme_ctx, Corruption.glossary_drop, Policy.fail)
    assert retry.decision is Decision.retry and "Rechnung" in retry.retry_instruction
    failed = run(text, "de", acme_ctx, Corruption.glossary_drop, Policy.fail, attempt=2)
    assert failed.decision is Decision.fail and failed.text is None
    assert QaCode.glossary_policy in failed.qa.codes


def test_suggestion_for_merges_segments(acme_ctx: GlossaryContext) -> None:
    plans = [
        plan_segment(i, t, target_lang="de", glossary=acme_ctx)
        for i, t in enumerate(["Your invoice", "Another invoice", "Cheap plan"])
    ]
    assert suggestion_for(plans) == (
        'Use these glossary translations: "invoice" → "Rechnung"; "plan" → "Tarif".\n'
        'Never use: "billig".'
    )


def test_whitespace_edges_of_the_source_are_kept() -> None:
    assert run("  Save  ", "de").text == "  [de] Save  "


def test_wrong_number_of_translations_is_a_programming_error() -> None:
    plan = plan_segment(0, "Save", target_lang="de")
    with pytest.raises(ValueError, match="expected 1 translations"):
        finish_segment(plan, [], target_lang="de")


def test_caller_notes_are_reported() -> None:
    plan = plan_segment(0, "Save", target_lang="de")
    result = finish_segment(plan, ["Speichern"], target_lang="de", notes=[QaCode.packing_failed])
    assert result.qa.codes == [QaCode.packing_failed] and result.qa.status == "ok"
