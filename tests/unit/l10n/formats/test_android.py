"""Android strings.xml, re-read with lxml."""

from __future__ import annotations

import pytest
from lxml import etree

from service.l10n.formats import ResourceFormatError, get_format
from service.l10n.formats.android import escape, unescape
from tests.unit.l10n.formats.support import sample, simulate, tagged

ANDROID = get_format("android")


def _resources(content: bytes) -> list[tuple[str, str | None]]:
    return [(str(e.tag), e.get("name")) for e in etree.fromstring(content)]


def test_units_ids_notes_and_plurals() -> None:
    units = ANDROID.extract(sample("strings.xml"))
    assert [u.id for u in units] == [
        "app_name",
        "welcome",
        "multiline",
        "quoted",
        "planets[0]",
        "planets[1]",
        "notes_count[one]",
        "notes_count[other]",
    ]
    by_id = {u.id: u for u in units}
    assert by_id["app_name"].note == "The app name, shown under the launcher icon."
    assert by_id["welcome"].text == (
        'Don\'t forget to say "hi" to <xliff:g id="user" example="Ann">%1$s</xliff:g>!'
    )
    assert by_id["multiline"].text == "First line\nSecond line"
    assert by_id["quoted"].text == "It's quoted"
    assert by_id["notes_count[one]"].plural == "one"


def test_round_trip_keeps_resources_comments_and_untranslatables() -> None:
    original = etree.fromstring(sample("strings.xml"))
    _, output = simulate("android", sample("strings.xml"), "de")
    result = etree.fromstring(output)
    assert _resources(output) == _resources(sample("strings.xml"))
    assert [c.text for c in result.iter(etree.Comment)] == [
        c.text for c in original.iter(etree.Comment)
    ]
    assert result.nsmap == original.nsmap
    assert result.find("string[@name='api_key']").text == "ak_live_123"
    assert result.find("integer").text == "100" and result.find("color").text == "#FF5722"
    assert result.find("string[@name='app_name']").text == tagged("Acme Notes")
    assert [i.text for i in result.find("string-array")] == [tagged("Mercury"), tagged("Venus")]


def test_escapes_and_inline_markup_are_written_back() -> None:
    _, output = simulate("android", sample("strings.xml"), "de")
    assert (
        b'<string name="welcome">[de] Don\\\'t forget to say \\"hi\\" to '
        b'<xliff:g id="user" example="Ann">%1$s</xliff:g>!</string>'
    ) in output
    assert b'<string name="multiline">[de] First line\\nSecond line</string>' in output
    assert b'<string name="quoted">[de] It\\\'s quoted</string>' in output


def test_plurals_follow_the_target_language() -> None:
    _, output = simulate("android", sample("strings.xml"), "pl")
    items = etree.fromstring(output).find("plurals")
    assert [i.get("quantity") for i in items.iter("item")] == ["one", "few", "many", "other"]
    assert [i.text for i in items.iter("item")] == [
        tagged("%d note", "pl"),
        *[tagged("%d notes", "pl")] * 3,
    ]
    assert isinstance(items[0], etree._Comment)  # the comment inside <plurals> stays first


def test_plurals_unchanged_for_a_language_with_the_same_forms() -> None:
    _, output = simulate("android", sample("strings.xml"), "de")
    items = etree.fromstring(output).find("plurals").iter("item")
    assert [i.get("quantity") for i in items] == ["one", "other"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Don\\'t", "Don't"),
        ('Say \\"hi\\"', 'Say "hi"'),
        ("a\\nb\\tc", "a\nb\tc"),
        ("\\@home", "@home"),
        ("caf\\u00e9", "café"),
        ("back\\\\slash", "back\\slash"),
    ],
)
def test_unescape(raw: str, text: str) -> None:
    assert unescape(raw) == text


@pytest.mark.parametrize("text", ["Don't", 'Say "hi"', "a\nb\tc", "@home", "?attr", "back\\slash"])
def test_escape_reverses_unescape(text: str) -> None:
    assert unescape(escape(text)) == text


def test_not_resources_is_refused() -> None:
    with pytest.raises(ResourceFormatError, match="<manifest>"):
        ANDROID.extract(b"<manifest/>")


def test_string_without_name_says_where() -> None:
    with pytest.raises(ResourceFormatError, match="without name at line 2"):
        ANDROID.extract(b"<resources>\n<string>x</string></resources>")


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ResourceFormatError, match="duplicate key 'a'"):
        ANDROID.extract(
            b'<resources><string name="a">x</string><string name="a">y</string></resources>'
        )


def test_broken_markup_in_a_translation_names_the_string() -> None:
    with pytest.raises(ResourceFormatError, match="welcome: translation is not well-formed"):
        ANDROID.merge(sample("strings.xml"), {"welcome": "Hallo <xliff:g>"}, "de")
