"""Apple .strings: re-read with the format's own tokenizer, and compared byte for byte."""

from __future__ import annotations

import codecs

import pytest

from service.l10n.formats import ResourceFormatError, get_format
from service.l10n.formats.applestrings import quote, unescape
from tests.unit.l10n.formats.support import sample, simulate, tagged

STRINGS = get_format("apple-strings")


def test_units_keys_and_notes() -> None:
    units = STRINGS.extract(sample("Localizable.strings"))
    assert [u.id for u in units] == [
        "main.title",
        "button.new",
        "abc-12.text",
        "unicode",
        "settings_title",
    ]
    by_id = {u.id: u for u in units}
    assert by_id["main.title"].note == "Title of the main screen"  # not the file's header comment
    assert by_id["button.new"].note == "Button that creates a note"
    assert by_id["abc-12.text"].text == 'Hello, "friend"!\nWelcome.'
    assert by_id["unicode"].text == "Café au lait"
    assert by_id["unicode"].note is None


def test_only_values_change() -> None:
    original = sample("Localizable.strings").decode()
    _, output = simulate("apple-strings", sample("Localizable.strings"))
    expected = (
        original.replace('"My Notes"', '"[de] My Notes"')
        .replace('"New note"', '"[de] New note"')
        .replace('"Hello, \\"friend\\"!\\nWelcome."', '"[de] Hello, \\"friend\\"!\\nWelcome."')
        .replace('"Caf\\U00e9 au lait"', '"[de] Café au lait"')
        .replace('"Settings"', '"[de] Settings"')
    )
    assert output.decode() == expected


def test_translated_values_read_back() -> None:
    units, output = simulate("apple-strings", sample("Localizable.strings"))
    again = STRINGS.extract(output)
    assert [(u.id, u.text, u.note) for u in again] == [
        (u.id, tagged(u.text), u.note) for u in units
    ]


@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
def test_utf16_stays_utf16(bom: bytes) -> None:
    encoding = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    content = bom + '/* Hi */\n"hi" = "Hi";\n'.encode(encoding)
    output = STRINGS.merge(content, {"hi": "Grüß dich"}, "de")
    assert output == bom + '/* Hi */\n"hi" = "Grüß dich";\n'.encode(encoding)


def test_quote_and_unescape_are_inverse() -> None:
    text = 'Tab\there, "quotes", back\\slash\nnew line'
    assert unescape(quote(text)[1:-1]) == text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'"a" = "b";\n"c" = "d"\n"e" = "f";', "expected .* at line 2"),
        (b'"a" = "b";\n\n"c" = "unterminated;\n', "unexpected '\"' at line 3"),
        (b'"a" = "b";\n"c" =', "unfinished entry at line 2"),
        (b'"a" = "b";\n"a" = "c";', "duplicate key 'a'"),
        (b'"a" = "\xff";', "not utf-8 at byte 7"),
    ],
)
def test_malformed_strings_say_where(content: bytes, message: str) -> None:
    with pytest.raises(ResourceFormatError, match=message):
        STRINGS.extract(content)
