from __future__ import annotations

import pytest

from service.l10n import icu
from service.l10n.icu import Arg, Choice, Hash, IcuError, Text
from service.l10n.protect import Placeholder, mask, restore

PLURAL = "{count, plural, =0 {No files} one {# file from {name}} other {# files from {name}}}"


def test_parse_plural_tree() -> None:
    (choice,) = icu.parse(PLURAL)
    assert isinstance(choice, Choice)
    assert (choice.name, choice.kind, [k for k, _ in choice.branches]) == (
        "count",
        "plural",
        ["=0", "one", "other"],
    )
    assert choice.branches[1][1] == (Hash(), Text(" file from "), Arg("name", "{name}"))


def test_parse_offset_select_and_selectordinal() -> None:
    (plural,) = icu.parse("{n, plural, offset:1 =0 {none} other {# more}}")
    assert isinstance(plural, Choice) and plural.offset == 1
    (select,) = icu.parse("{g, select, female {she} other {they}}")
    assert isinstance(select, Choice) and select.kind == "select"
    (ordinal,) = icu.parse("{n, selectordinal, one {#st} other {#th}}")
    assert isinstance(ordinal, Choice) and ordinal.kind == "selectordinal"


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("It''s", "It's"),
        ("It's", "It's"),
        ("'{'literal'}'", "{literal}"),
        ("'{literal}'", "{literal}"),
        ("a '# b", "a '# b"),  # outside plurals '#' is not syntax
        ("'{unterminated", "{unterminated"),
    ],
)
def test_apostrophe_quoting(source: str, text: str) -> None:
    assert icu.parse(source) == (Text(text),)


def test_hash_is_literal_when_quoted_or_in_select() -> None:
    (plural,) = icu.parse("{n, plural, other {'#' #}}")
    assert isinstance(plural, Choice)
    assert plural.branches[0][1] == (Text("# "), Hash())
    (select,) = icu.parse("{g, select, other {#1}}")
    assert isinstance(select, Choice) and select.branches[0][1] == (Text("#1"),)


@pytest.mark.parametrize(
    "source",
    [
        PLURAL,
        "{g, select, female {{n, plural, one {She has # file} other {She has # files}}} other {x}}",
        "{n, selectordinal, offset:1 one {#st} other {#th}}",
        "Total {amount, number, ::currency/EUR} for {n, plural, other {# items}}",
        "l''{x} '{'a'}' {n, plural, other {'#' ''#}}",
        "{d, date, short} {t, time, ::jmm}",
    ],
)
def test_render_roundtrips(source: str) -> None:
    tree = icu.parse(source)
    assert icu.parse(icu.render(tree)) == tree


@pytest.mark.parametrize(
    "source",
    [
        "{",
        "{n, plural, one {x}}",  # no other
        "{n, plural, one {x} other {y}",
        "{n, plural, offset:x other {y}}",
        "a } b",
        "{, number}",
        "{n, plural, other y}",
        "{n, number",
    ],
)
def test_malformed_messages(source: str) -> None:
    with pytest.raises(IcuError):
        icu.parse(source)


def test_try_parse_only_for_choice_messages() -> None:
    assert icu.try_parse("Hello {name}") is None
    assert icu.try_parse("Hello {{name}}") is None
    assert icu.try_parse("no braces") is None
    assert icu.try_parse(PLURAL) is not None


@pytest.mark.parametrize(
    ("text", "plural", "expected"),
    [
        ("a{b", False, "a'{'b"),
        ("#1", False, "#1"),
        ("#1", True, "'#'1"),
        ("l'ami", False, "l'ami"),
        ("it''s", False, "it'''s"),
        ("l'", False, "l'"),
    ],
)
def test_escape(text: str, plural: bool, expected: str) -> None:
    assert icu.escape(text, in_plural=plural) == expected
    if not plural:
        assert icu.parse(expected) == (Text(text),)


def test_an_apostrophe_before_an_argument_is_doubled() -> None:
    tree = (Text("l'"), Arg("x", "{x}"))
    assert icu.render(tree) == "l''{x}"
    assert icu.parse("l''{x}") == tree


def test_units_mask_arguments_hash_and_nested_messages() -> None:
    tree = icu.parse("Hi {name}: {n, plural, one {# new <b>file</b>} other {# new files}} today")
    texts = [mask(list(u.pieces)).text for u in icu.units(tree)]
    assert texts == ["Hi ⟦1⟧: ⟦2⟧ today", "⟦1⟧ new ⟦2⟧file⟦3⟧", "⟦1⟧ new files"]


def test_branches_without_text_are_not_units() -> None:
    tree = icu.parse("{n, plural, one {#} other {{n, number}}}")
    assert icu.units(tree) == []
    assert icu.rebuild(tree, [], "ja").text == "{n, plural, other {{n, number}}}"


def translate_all(tree: icu.Message, prefix: str) -> list[tuple[str | Placeholder, ...]]:
    out = []
    for unit in icu.units(tree):
        masked = mask(list(unit.pieces))
        out.append(restore(f"{prefix}{masked.text}", masked).parts)
    return out


def test_rebuild_fills_polish_categories_from_other() -> None:
    tree = icu.parse(PLURAL)
    rebuilt = icu.rebuild(tree, translate_all(tree, "PL "), "pl")
    assert rebuilt.text == (
        "{count, plural, =0 {PL No files} one {PL # file from {name}} "
        "few {PL # files from {name}} many {PL # files from {name}} "
        "other {PL # files from {name}}}"
    )
    assert rebuilt.filled == ["count:few", "count:many"] and rebuilt.dropped == []


def test_rebuild_drops_categories_the_target_lacks_and_keeps_exact_ones() -> None:
    tree = icu.parse(PLURAL)
    rebuilt = icu.rebuild(tree, translate_all(tree, "JA "), "ja")
    assert rebuilt.text == "{count, plural, =0 {JA No files} other {JA # files from {name}}}"
    assert rebuilt.dropped == ["count:one"]


def test_rebuild_uses_ordinal_rules_for_selectordinal() -> None:
    tree = icu.parse("{n, selectordinal, one {#st} two {#nd} few {#rd} other {#th}}")
    rebuilt = icu.rebuild(tree, translate_all(tree, ""), "de")
    assert rebuilt.text == "{n, selectordinal, other {#th}}"


def test_rebuild_keeps_select_keys_and_nested_plurals() -> None:
    source = "{g, select, female {{n, plural, one {She has #} other {She has # files}}} other {x}}"
    tree = icu.parse(source)
    rebuilt = icu.rebuild(tree, translate_all(tree, "> "), "ru")
    assert rebuilt.text == (
        "{g, select, female {{n, plural, one {> She has #} few {> She has # files} "
        "many {> She has # files} other {> She has # files}}} other {> x}}"
    )


def test_rebuild_lets_the_translation_move_arguments_and_nested_messages() -> None:
    tree = icu.parse("Hi {name}, {n, plural, one {# file} other {# files}} for you")
    units = icu.units(tree)
    masked = [mask(list(u.pieces)) for u in units]
    translated = ["Für dich ⟦2⟧, ⟦1⟧", "⟦1⟧ Datei", "⟦1⟧ Dateien"]
    parts = [restore(t, m).parts for t, m in zip(translated, masked, strict=True)]
    assert icu.rebuild(tree, parts, "de").text == (
        "Für dich {n, plural, one {# Datei} other {# Dateien}}, {name}"
    )


def test_rebuild_escapes_translated_text() -> None:
    tree = icu.parse("{n, plural, other {# items}}")
    parts = [("l'", Placeholder(1, "icu_hash", "#", 0), " {x} #")]
    rebuilt = icu.rebuild(tree, parts, "fr")
    assert (
        rebuilt.text
        == "{n, plural, one {l''# '{'x'}' '#'} many {l''# '{'x'}' '#'} other {l''# '{'x'}' '#'}}"
    )
    assert icu.parse(rebuilt.text)


def test_rebuild_needs_one_translation_per_unit() -> None:
    with pytest.raises(IcuError):
        icu.rebuild(icu.parse(PLURAL), [], "de")


def test_an_apostrophe_ending_a_branch_is_doubled() -> None:
    source = "{n, plural, other {# for ''{q}''}}"
    tree = icu.parse(source)
    assert icu.render(tree) == source
    assert icu.parse(icu.render(tree)) == tree
