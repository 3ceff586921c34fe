from __future__ import annotations

import pytest

from service.l10n.packing import pack, unpack
from service.sim.translate import (
    Corruption,
    apply_glossary,
    calls_for_strategy,
    corrupt,
    count_tokens,
    fake_translate,
)


def test_output_is_tagged_with_the_target_language() -> None:
    assert fake_translate("Open the valve.", "de") == "[de] Open the valve."


def test_glossary_terms_replace_case_insensitively_with_the_target_verbatim() -> None:
    terms = [("valve", "Ventil")]
    assert fake_translate("Open the VALVE, then the Valve.", "de", terms) == (
        "[de] Open the Ventil, then the Ventil."
    )


def test_only_whole_words_match() -> None:
    assert apply_glossary("valves and subvalve", (("valve", "Ventil"),)) == "valves and subvalve"


def test_longest_source_term_wins() -> None:
    terms = (("valve", "Ventil"), ("safety valve", "Sicherheitsventil"))
    assert apply_glossary("a safety valve and a valve", terms) == "a Sicherheitsventil and a Ventil"


def test_terms_with_punctuation_and_regex_characters() -> None:
    terms = (("C++", "C-plus-plus"), ("a.b", "X"))
    assert apply_glossary("C++ code, a.b but not aXb", terms) == "C-plus-plus code, X but not aXb"


def test_first_pair_of_a_duplicated_term_wins_and_blank_terms_are_ignored() -> None:
    terms = (("Valve", "Ventil"), ("valve", "Klappe"), ("  ", "nothing"))
    assert apply_glossary("valve", terms) == "Ventil"


def test_replacement_is_not_applied_recursively() -> None:
    terms = (("cat", "dog"), ("dog", "cat"))
    assert apply_glossary("cat dog", terms) == "dog cat"


def test_no_terms_leave_the_text_unchanged() -> None:
    assert apply_glossary("unchanged", ()) == "unchanged"


def test_unicode_terms() -> None:
    assert apply_glossary("Die Straße ist lang", (("straße", "street"),)) == "Die street ist lang"


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("abc", 1), ("abcd", 1), ("abcde", 2)])
def test_count_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


@pytest.mark.parametrize(
    ("strategy", "calls"),
    [
        ("general", 1),
        ("cot", 1),
        ("paraphrase", 1),
        ("two_step", 2),
        ("three_step", 3),
        ("reflection", 2),
    ],
)
def test_calls_per_strategy(strategy: str, calls: int) -> None:
    assert calls_for_strategy(strategy) == calls


def test_tokens_and_packing_markers_are_copied_and_never_glossary_replaced() -> None:
    terms = [("1", "one"), ("valve", "Ventil")]
    assert fake_translate("Open ⟦1⟧ valve 1", "de", terms) == "[de] Open ⟦1⟧ Ventil one"
    packed = "⟦§1⟧\nOpen the valve\n⟦§2⟧\nClose ⟦1⟧"
    assert fake_translate(packed, "de", terms) == "⟦§1⟧\n[de] Open the Ventil\n⟦§2⟧\n[de] Close ⟦1⟧"


@pytest.mark.parametrize(
    ("corruption", "expected"),
    [
        (Corruption.placeholder_drop, "[de] Hi  and ⟦2⟧"),
        (Corruption.placeholder_duplicate, "[de] Hi ⟦1⟧⟦1⟧ and ⟦2⟧"),
        (Corruption.glossary_drop, "[de] Hi ⟦1⟧ and ⟦2⟧"),
        (Corruption.none, "[de] Hi ⟦1⟧ and ⟦2⟧"),
    ],
)
def test_corruptions(corruption: Corruption, expected: str) -> None:
    assert fake_translate("Hi ⟦1⟧ and ⟦2⟧", "de", [("Hi", "Hallo")], corruption) == (
        expected.replace("Hi", "Hallo") if corruption is not Corruption.glossary_drop else expected
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {name}!", "Hi !"),
        ("{{count}} new", " new"),
        ("%1$s said", " said"),
        ("<b>bold</b>", "bold</b>"),
        ("no placeholder", "no placeholder"),
    ],
)
def test_corrupt_drops_the_first_raw_placeholder(text: str, expected: str) -> None:
    assert corrupt(text, Corruption.placeholder_drop) == expected


def test_corruption_hits_every_packed_section() -> None:
    packed = "⟦§1⟧\nA ⟦1⟧\n⟦§2⟧\nB ⟦2⟧"
    assert fake_translate(packed, "de", (), Corruption.placeholder_drop) == (
        "⟦§1⟧\n[de] A \n⟦§2⟧\n[de] B "
    )


def test_marker_drop_merges_the_last_packed_section_and_leaves_single_texts_alone() -> None:
    (batch,) = pack(["one", "two", "three"])
    broken = fake_translate(batch.text, "de", corruption=Corruption.marker_drop)
    assert broken == "⟦§1⟧\n[de] one\n⟦§2⟧\n[de] two\n[de] three"
    assert unpack(broken, batch) is None
    assert fake_translate("alone", "de", corruption=Corruption.marker_drop) == "[de] alone"
