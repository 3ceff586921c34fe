"""gettext PO, re-read with polib."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest

from service.l10n.formats import ResourceFormatError, get_format
from tests.unit.l10n.formats.support import sample, simulate, tagged

PO = get_format("po")


def _read(content: bytes) -> polib.POFile:
    return polib.pofile(content.decode("utf-8"))


def test_units_ids_context_notes_and_plurals() -> None:
    units = PO.extract(sample("messages.po"))
    assert [u.id for u in units] == [
        "Sign in to your account",
        "button\x04Open",
        "status\x04Open",
        "You have %(count)d item[one]",
        "You have %(count)d item[other]",
        "Your profile was updated.",
    ]
    assert units[0].note == "Shown on the login page header."
    assert (units[1].context, units[1].note) == (
        "button",
        "Translator: keep it short, it is a button.",
    )
    assert [(u.text, u.plural) for u in units[3:5]] == [
        ("You have %(count)d item", "one"),
        ("You have %(count)d items", "other"),
    ]


def test_round_trip_keeps_entries_comments_and_header() -> None:
    original = _read(sample("messages.po"))
    _, output = simulate("po", sample("messages.po"), "de")
    result = _read(output)
    assert [(e.msgctxt, e.msgid) for e in result] == [(e.msgctxt, e.msgid) for e in original]
    for before, after in zip(original, result, strict=True):
        assert (after.comment, after.tcomment, after.occurrences, after.flags) == (
            before.comment,
            before.tcomment,
            before.occurrences,
            before.flags,
        )
    assert result.header == original.header
    assert result.metadata["Project-Id-Version"] == "acme-dashboard 2.1"
    assert result.metadata["Language"] == "de"
    assert result.metadata["Plural-Forms"].startswith("nplurals=2;")


def test_texts_are_translated_and_obsolete_entries_kept() -> None:
    result = _read(simulate("po", sample("messages.po"), "de")[1])
    assert result.find("Sign in to your account").msgstr == tagged("Sign in to your account")
    assert result.find("Open", msgctxt="status").msgstr == tagged("Open")
    assert result.find("Your profile was updated.").msgstr == tagged("Your profile was updated.")
    (obsolete,) = result.obsolete_entries()
    assert (obsolete.msgid, obsolete.msgstr) == ("Old welcome text", "Old welcome text")


def test_plural_forms_follow_the_target_language() -> None:
    result = _read(simulate("po", sample("messages.po"), "pl")[1])
    plural = result.find("You have %(count)d item")
    assert result.metadata["Plural-Forms"].startswith("nplurals=3;")
    assert plural.msgstr_plural == {
        0: tagged("You have %(count)d item", "pl"),
        1: tagged("You have %(count)d items", "pl"),
        2: tagged("You have %(count)d items", "pl"),
    }


def test_single_form_language_gets_the_plural_text() -> None:
    result = _read(simulate("po", sample("messages.po"), "ja")[1])
    plural = result.find("You have %(count)d item")
    assert plural.msgstr_plural == {0: tagged("You have %(count)d items", "ja")}


def test_unknown_language_keeps_the_file_plural_count() -> None:
    result = _read(simulate("po", sample("messages.po"), "x-klingon")[1])
    assert result.metadata["Language"] == "x-klingon"
    assert len(result.find("You have %(count)d item").msgstr_plural) == 2


def test_pot_without_charset_and_latin1_po() -> None:
    pot = b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=CHARSET\\n"\n\nmsgid "Hi"\nmsgstr ""\n'
    assert PO.merge(pot, {"Hi": "Hallo"}, "de").endswith(b'msgstr "Hallo"\n')
    latin1 = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=ISO-8859-1\\n"\n\nmsgid "Café"\nmsgstr ""\n'
    output = PO.merge(latin1.encode("latin-1"), {"Café": "Kaffee"}, "de")
    assert 'msgid "Café"'.encode("latin-1") in output


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ResourceFormatError, match=r"line 3"):
        PO.extract(b'msgid "a"\nmsgstr "b"\nthis is not po\n')


def test_duplicate_entries_are_refused() -> None:
    with pytest.raises(ResourceFormatError, match="already exists"):
        PO.extract(b'msgid "a"\nmsgstr ""\n\nmsgid "a"\nmsgstr ""\n')


def test_content_naming_a_file_is_parsed_as_content(tmp_path: Path) -> None:
    # polib opens its argument when it names a file: a request must never make it read one.
    secret = tmp_path / "secret.po"
    secret.write_text('msgid "secret"\nmsgstr ""\n')
    with pytest.raises(ResourceFormatError, match="line 1"):
        PO.extract(str(secret).encode())
