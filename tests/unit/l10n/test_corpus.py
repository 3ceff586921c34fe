"""The localization corpus (tests/data/l10n/corpus.jsonl) through mask → simulated
translation → restore → checks, clean and with every content fault of the simulator."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from service.glossary.compile import term_pairs
from service.glossary.model import GlossaryDocument
from service.l10n import icu, plurals
from service.l10n.compliance import Decision, Policy
from service.l10n.packing import calls_saved, pack, unpack
from service.l10n.qa import QaCode, build_report
from service.l10n.segment import GlossaryContext, SegmentPlan, SegmentResult, finish_segment
from service.l10n.segment import plan_segment as plan
from service.sim.translate import Corruption, fake_translate
from tests.unit.l10n.conftest import load_acme

CORPUS = Path(__file__).resolve().parents[2] / "data" / "l10n" / "corpus.jsonl"
LANGS = ("de", "fr", "ja", "pl", "ar")
GLOSSARY_LANGS = ("de", "fr", "ja")  # the languages the acme glossary covers
ICU_KINDS = {"icu_arg": "placeholder", "icu_hash": None, "icu_nested": None}


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    kinds: tuple[str, ...]


@cache
def corpus() -> tuple[Row, ...]:
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line]
    return tuple(Row(r["id"], r["text"], tuple(r["kinds"])) for r in rows)


@cache
def context() -> GlossaryContext:
    return GlossaryContext.of(load_acme())


def translate(
    row_index: int, lang: str, corruption: Corruption = Corruption.none, **kw: object
) -> tuple[SegmentPlan, SegmentResult]:
    ctx = context()
    segment_plan = plan(row_index, corpus()[row_index].text, target_lang=lang, glossary=ctx)
    pairs = term_pairs(ctx.document, "en", lang)
    texts = [fake_translate(t, lang, pairs, corruption) for t in segment_plan.texts]
    result = finish_segment(segment_plan, texts, target_lang=lang, glossary=ctx, **kw)  # type: ignore[arg-type]
    return segment_plan, result


def choice_kinds(message: icu.Message) -> set[str]:
    kinds = set()
    for part in message:
        if isinstance(part, icu.Choice):
            kinds.add(f"icu_{part.kind}")
            kinds |= {k for _, branch in part.branches for k in choice_kinds(branch)}
    return kinds


def test_corpus_is_large_and_varied() -> None:
    rows = corpus()
    assert len(rows) >= 200
    assert len({r.id for r in rows}) == len(rows)
    kinds = {k for r in rows for k in r.kinds}
    assert kinds >= {
        "placeholder", "printf", "mustache", "template", "tag", "entity", "html_comment",
        "code", "url", "email", "dnt", "reserved",
        "icu_plural", "icu_select", "icu_selectordinal",
    }  # fmt: skip


def test_declared_kinds_are_what_the_masker_finds() -> None:
    wrong = []
    for index, row in enumerate(corpus()):
        segment_plan = plan(index, row.text, target_lang="de", glossary=context())
        found = {ICU_KINDS.get(k, k) for unit in segment_plan.units for k in unit.kinds}
        if segment_plan.message is not None:
            found |= choice_kinds(segment_plan.message)
        if found - {None} != set(row.kinds) and segment_plan.units:
            wrong.append((row.id, row.kinds, found))
    assert wrong == []


@pytest.mark.parametrize("lang", LANGS)
def test_clean_run_has_full_integrity(lang: str) -> None:
    results = [translate(i, lang)[1] for i in range(len(corpus()))]
    report = build_report(r.qa for r in results)
    assert report.totals.failed == 0
    assert report.totals.placeholder_errors == 0
    assert all(r.decision is Decision.accept and r.text is not None for r in results)
    for row, result in zip(corpus(), results, strict=True):
        assert result.text is not None
        assert_protected_content_kept(row, result.text, lang)


def assert_protected_content_kept(row: Row, text: str, lang: str) -> None:
    """Every protected original of the source is in the output, as often as in the source."""
    segment_plan = plan(0, row.text, target_lang=lang, glossary=context())
    if segment_plan.message is None:
        for unit in segment_plan.units:
            for placeholder in unit.tokens.values():
                assert text.count(placeholder.original) >= row.text.count(placeholder.original)
        return
    rebuilt = icu.parse(text)  # the output is a well-formed ICU message
    assert choice_names(rebuilt) == choice_names(segment_plan.message)
    for choice in choices(rebuilt):
        keys = [key for key, _ in choice.branches if not key.startswith("=")]
        expected = plurals.categories(lang, ordinal=choice.kind == "selectordinal")
        if choice.kind != "select" and expected is not None:
            assert tuple(keys) == expected, row.id


def choices(message: icu.Message) -> list[icu.Choice]:
    found = []
    for part in message:
        if isinstance(part, icu.Choice):
            found.append(part)
            found += [c for _, branch in part.branches for c in choices(branch)]
    return found


def choice_names(message: icu.Message) -> set[tuple[str, str]]:
    return {(c.name, c.kind) for c in choices(message)}


@pytest.mark.parametrize("lang", GLOSSARY_LANGS)
def test_clean_run_honours_the_glossary(lang: str) -> None:
    for index, row in enumerate(corpus()):
        _, result = translate(index, lang)
        glossary = result.qa.glossary
        assert glossary.dnt_violations == [] and glossary.forbidden_found == [], row.id
        if glossary.misses:  # only where a dropped plural branch held the term
            assert result.qa.plural_dropped, (row.id, glossary.misses)


def test_clean_run_covers_glossary_hits() -> None:
    report = build_report(translate(i, "de")[1].qa for i in range(len(corpus())))
    assert report.totals.glossary_hits >= 40


@pytest.mark.parametrize("lang", ["de", "ja"])
@pytest.mark.parametrize(
    "corruption", [Corruption.placeholder_drop, Corruption.placeholder_duplicate]
)
def test_every_corrupted_placeholder_is_caught(lang: str, corruption: Corruption) -> None:
    corrupted = 0
    for index, row in enumerate(corpus()):
        segment_plan, first = translate(index, lang, corruption)
        _, clean = translate(index, lang)
        if not any(unit.tokens for unit in segment_plan.units):
            assert first.text == clean.text, row.id  # nothing to corrupt
            continue
        corrupted += 1
        assert first.decision is Decision.retry and first.text is None, row.id
        _, second = translate(index, lang, corruption, attempt=2)
        assert second.decision is Decision.fail and second.text is None, row.id
        code = (
            QaCode.placeholder_missing
            if corruption is Corruption.placeholder_drop
            else QaCode.placeholder_duplicated
        )
        assert code in second.qa.codes and second.qa.status == "failed", row.id
    assert corrupted >= 150


@pytest.mark.parametrize("lang", GLOSSARY_LANGS)
def test_dropped_glossary_terms_are_caught(lang: str) -> None:
    affected = 0
    for index, row in enumerate(corpus()):
        segment_plan, result = translate(index, lang, Corruption.glossary_drop)
        changed = [h for h in segment_plan.hits if h.target.casefold() != h.term.casefold()]
        for hit in changed:  # never counted as an exact hit
            assert hit.target not in result.qa.glossary.hits, (row.id, hit)
        if changed:
            affected += 1
            assert {QaCode.glossary_miss, QaCode.glossary_inflected} & set(result.qa.codes)
        _, strict = translate(index, lang, Corruption.glossary_drop, policy=Policy.fail, attempt=2)
        if strict.qa.glossary.misses:
            assert strict.decision is Decision.fail and strict.text is None
    assert affected >= 20


@pytest.mark.parametrize("lang", ["de", "pl"])
def test_packed_translation_matches_one_call_per_text(lang: str) -> None:
    ctx = context()
    pairs = term_pairs(ctx.document, "en", lang)
    plans = [plan(i, r.text, target_lang=lang, glossary=ctx) for i, r in enumerate(corpus())]
    texts = [t for p in plans for t in p.texts]
    batches = pack(texts, max_chars=2000)
    translated: list[str] = [""] * len(texts)
    for batch in batches:
        parts = unpack(fake_translate(batch.text, lang, pairs), batch)
        assert parts is not None
        for index, part in zip(batch.indices, parts, strict=True):
            translated[index] = part
    assert translated == [fake_translate(t, lang, pairs) for t in texts]
    assert calls_saved(batches) >= len(texts) * 0.8
    results = finish_all(plans, translated, lang, ctx)
    assert all(r.decision is Decision.accept for r in results)


def finish_all(
    plans: Sequence[SegmentPlan], translated: Sequence[str], lang: str, ctx: GlossaryContext
) -> list[SegmentResult]:
    results, position = [], 0
    for segment_plan in plans:
        count = len(segment_plan.units)
        chunk = translated[position : position + count]
        results.append(finish_segment(segment_plan, chunk, target_lang=lang, glossary=ctx))
        position += count
    return results


def test_damaged_packing_is_detected_for_fallback() -> None:
    texts = [
        t for i, r in enumerate(corpus()[:40]) for t in plan(i, r.text, target_lang="de").texts
    ]
    batch = pack(texts, max_chars=10_000)[0]
    reply = fake_translate(batch.text, "de")
    assert unpack(reply, batch) is not None
    assert unpack(reply.replace("⟦§3⟧\n", "", 1), batch) is None
    assert unpack(reply.replace("⟦§3⟧", "⟦§4⟧", 1), batch) is None


def test_acme_glossary_fixture(acme: GlossaryDocument) -> None:
    assert acme == context().document
