from __future__ import annotations

import pytest

from service.glossary.model import GlossaryEntry
from service.l10n.protect import (
    STRICT_INSTRUCTION,
    Keep,
    Placeholder,
    keep_edges,
    mask,
    restore,
)
from service.l10n.terms import TermIndex


def kinds_of(text: str) -> list[tuple[str, str]]:
    return [(p.kind, p.original) for p in mask(text).tokens.values()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {name}!", [("placeholder", "{name}")]),
        ("{0} of {1}", [("placeholder", "{0}"), ("placeholder", "{1}")]),
        ("At {t, time, short}", [("placeholder", "{t, time, short}")]),
        ("{price:N2} and {}", [("placeholder", "{price:N2}"), ("placeholder", "{}")]),
        ("%s and %d", [("printf", "%s"), ("printf", "%d")]),
        ("%1$s by %2$@", [("printf", "%1$s"), ("printf", "%2$@")]),
        ("%.2f GB, 100%%", [("printf", "%.2f"), ("printf", "%%")]),
        ("%(name)s has %(n)d", [("printf", "%(name)s"), ("printf", "%(n)d")]),
        ("Hi %{user}", [("printf", "%{user}")]),
        ("{{name}} and {{{raw}}}", [("mustache", "{{name}}"), ("mustache", "{{{raw}}}")]),
        ("{{#if a}}x{{/if}}", [("mustache", "{{#if a}}"), ("mustache", "{{/if}}")]),
        ("${user.name} here", [("template", "${user.name}")]),
        ("<b>Bold</b>", [("tag", "<b>"), ("tag", "</b>")]),
        ('<a href="/x?a=1&b=2">go</a>', [("tag", '<a href="/x?a=1&b=2">'), ("tag", "</a>")]),
        ("a<br/>b", [("tag", "<br/>")]),
        ("<0>here</0>", [("tag", "<0>"), ("tag", "</0>")]),
        (
            "&amp; &#39; &#x00B0;",
            [("entity", "&amp;"), ("entity", "&#39;"), ("entity", "&#x00B0;")],
        ),
        ("<!-- note -->Save", [("html_comment", "<!-- note -->")]),
        ("Run `npm i` now", [("code", "`npm i`")]),
        ("```\nrm -rf {x}\n```", [("code", "```\nrm -rf {x}\n```")]),
        ("Go to https://a.example/x?y=1.", [("url", "https://a.example/x?y=1")]),
        ("(see https://w.org/A_(b))", [("url", "https://w.org/A_(b)")]),
        ("(see https://w.org/a)", [("url", "https://w.org/a")]),
        ("https://a.example/{id}/x", [("url", "https://a.example/{id}/x")]),
        ("Mail jane.doe+x@mail.example.co.uk now", [("email", "jane.doe+x@mail.example.co.uk")]),
        ("Brackets ⟦ and [[3]]", [("reserved", "⟦"), ("reserved", "[[3]]")]),
    ],
)
def test_protected_kinds(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds_of(text) == expected


@pytest.mark.parametrize(
    "text",
    ["50% off", "100 % sure", "Item #4", "a < b and c > d", "Don't {stop", "email me @ home"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask(text).tokens == {}


def test_tokens_are_numbered_per_occurrence() -> None:
    masked = mask("{a} and {a}")
    assert masked.text == "⟦1⟧ and ⟦2⟧"
    assert masked.kinds == {"placeholder": 2}


def test_roundtrip_restores_the_original() -> None:
    text = "Hi {name}, <b>%d</b> new at https://x.example &amp; `code`"
    masked = mask(text)
    restored = restore(masked.text, masked)
    assert restored.ok and restored.text == text


def test_tokens_may_move() -> None:
    masked = mask("{a} sees {b}")
    restored = restore("⟦2⟧ wird von ⟦1⟧ gesehen", masked)
    assert restored.ok and restored.text == "{b} wird von {a} gesehen"


@pytest.mark.parametrize("variant", ["⟦ 1 ⟧", "⟦１⟧", "[[1]]", "[[ 1 ]]"])
def test_tolerated_token_spellings(variant: str) -> None:
    masked = mask("Hi {name}")
    restored = restore(f"Hallo {variant}", masked)
    assert restored.ok and restored.text == "Hallo {name}"


def test_missing_duplicated_and_unexpected_tokens_are_reported() -> None:
    masked = mask("{a} {b} {c}")
    restored = restore("⟦1⟧ ⟦1⟧ ⟦3⟧ ⟦9⟧", masked)
    assert not restored.ok
    assert [p.original for p in restored.missing] == ["{b}"]
    assert [p.original for p in restored.duplicated] == ["{a}"]
    assert restored.unexpected == ("⟦9⟧",)
    assert restored.text == "{a}  {c} ⟦9⟧"


def test_parts_and_free_text() -> None:
    masked = mask("Open <b>now</b>")
    restored = restore("Jetzt ⟦1⟧öffnen⟦2⟧", masked)
    assert restored.parts[0] == "Jetzt "
    assert isinstance(restored.parts[1], Placeholder) and restored.parts[1].original == "<b>"
    assert restored.free_text == "Jetzt  öffnen "


def test_keep_spans_are_masked_with_their_reference() -> None:
    masked = mask(["You have ", Keep("#", "icu_hash", ref=1), " {x} new"])
    assert masked.text == "You have ⟦1⟧ ⟦2⟧ new"
    assert masked.tokens[1] == Placeholder(1, "icu_hash", "#", 1)
    assert masked.tokens[2].kind == "placeholder"


def test_do_not_translate_terms_are_masked_but_not_inside_longer_terms() -> None:
    index = TermIndex(
        [
            GlossaryEntry("Acme", do_not_translate=True, case_sensitive=True),
            GlossaryEntry("Acme Cloud Console", {"de": "Acme Cloud-Konsole"}, case_sensitive=True),
        ]
    )
    masked = mask("Acme: open Acme Cloud Console. acme", dnt=index.dnt_spans)
    assert masked.text == "⟦1⟧: open Acme Cloud Console. acme"
    assert masked.tokens[1].kind == "dnt"


def test_keep_edges() -> None:
    assert keep_edges("  Save \n", "Speichern") == "  Speichern \n"
    assert keep_edges("Save", "  Speichern ") == "Speichern"
    assert keep_edges("  x ", "") == ""


def test_strict_instruction_names_the_token_format() -> None:
    assert "⟦1⟧" in STRICT_INSTRUCTION and "exactly once" in STRICT_INSTRUCTION
