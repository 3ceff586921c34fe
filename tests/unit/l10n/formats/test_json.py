"""Flat JSON, i18next JSON and ARB, re-read with the json module."""

from __future__ import annotations

import json

import pytest

from service.l10n.formats import ResourceFormatError, get_format
from tests.unit.l10n.formats.support import sample, simulate, tagged


def test_flat_json_keeps_keys_order_and_non_strings() -> None:
    original = json.loads(sample("flat.json"))
    units, output = simulate("json", sample("flat.json"))
    result = json.loads(output)
    assert list(result) == list(original)
    assert [u.id for u in units] == ["home.title", "home.subtitle", "settings.save"]
    assert result["home.title"] == tagged("Home")
    assert result["settings.empty"] == ""
    assert result["limits.max_items"] == 50
    assert result["feature.enabled"] is False


def test_flat_json_keeps_indentation_and_final_newline() -> None:
    _, output = simulate("json", sample("flat.json"))
    assert output.startswith(b'{\n    "home.title"')
    assert output.endswith(b"}\n")


def test_minified_json_stays_minified() -> None:
    _, output = simulate("json", b'{"a":"Hi","b":{"c":"Yo"}}')
    assert output == b'{"a":"[de] Hi","b":{"c":"[de] Yo"}}'


def test_nested_json_ids_are_dotted_paths_with_list_indexes() -> None:
    units = get_format("json").extract(sample("i18next.json"))
    assert [u.id for u in units][-2:] == ["errors.codes.0", "errors.codes.1"]


def test_non_ascii_is_written_as_utf8() -> None:
    output = get_format("json").merge(b'{"a": "Hi"}', {"a": "Grüße"}, "de")
    assert "Grüße".encode() in output


def test_i18next_plural_units_carry_their_category() -> None:
    units = {u.id: u for u in get_format("i18next").extract(sample("i18next.json"))}
    assert units["cart.item_one"].plural == "one"
    assert units["cart.item_other"].plural == "other"
    assert units["cart.place_ordinal_one"].plural is None  # ordinals are plain keys


def test_i18next_keeps_structure_for_a_language_with_the_same_forms() -> None:
    original = json.loads(sample("i18next.json"))
    _, output = simulate("i18next", sample("i18next.json"), "de")
    result = json.loads(output)
    assert list(result) == list(original)
    assert {k: list(v) for k, v in result.items() if isinstance(v, dict)} == {
        k: list(v) for k, v in original.items() if isinstance(v, dict)
    }
    assert result["cart"]["item_one"] == tagged("{{count}} item in your cart")
    assert result["errors"]["codes"] == [tagged("Not found"), tagged("Forbidden")]
    assert result["version"] == 3 and result["beta"] is True
    assert result["app"]["empty"] == ""


def test_i18next_plurals_follow_the_target_language() -> None:
    _, polish = simulate("i18next", sample("i18next.json"), "pl")
    cart = json.loads(polish)["cart"]
    assert list(cart) == [
        "item_one",
        "item_few",
        "item_many",
        "item_other",
        "checkout",
        "place_ordinal_one",
        "place_ordinal_other",
    ]
    assert cart["item_one"] == tagged("{{count}} item in your cart", "pl")
    assert cart["item_few"] == cart["item_many"] == cart["item_other"]


def test_i18next_plurals_collapse_for_a_language_without_them() -> None:
    _, japanese = simulate("i18next", sample("i18next.json"), "ja")
    cart = json.loads(japanese)["cart"]
    assert "item_one" not in cart
    assert cart["item_other"] == tagged("{{count}} items in your cart", "ja")


def test_arb_translates_values_and_keeps_metadata() -> None:
    original = json.loads(sample("app_en.arb"))
    units, output = simulate("arb", sample("app_en.arb"))
    result = json.loads(output)
    assert list(result) == list(original)
    assert [u.id for u in units] == ["appTitle", "notesCount", "hello"]
    assert result["@@locale"] == "de"
    assert result["@@x-generated"] == original["@@x-generated"]
    for key in ("@appTitle", "@notesCount", "@hello"):
        assert result[key] == original[key]
    assert result["notesCount"] == tagged(original["notesCount"])  # ICU is just text here


def test_arb_metadata_gives_note_and_context() -> None:
    units = {u.id: u for u in get_format("arb").extract(sample("app_en.arb"))}
    assert units["appTitle"].note == "The title of the application"
    assert units["notesCount"].context == "HomePage"
    assert units["hello"].note is None


def test_arb_without_locale_gets_one_first() -> None:
    output = get_format("arb").merge(b'{"hi": "Hi"}', {"hi": "Hallo"}, "de")
    assert list(json.loads(output)) == ["@@locale", "hi"]


@pytest.mark.parametrize("name", ["json", "i18next", "arb"])
def test_invalid_json_says_where(name: str) -> None:
    with pytest.raises(ResourceFormatError, match=r"line 3, column 1"):
        get_format(name).extract(b'{\n  "a": "b"\n')


@pytest.mark.parametrize("name", ["json", "i18next", "arb"])
def test_duplicate_keys_are_refused(name: str) -> None:
    with pytest.raises(ResourceFormatError, match="duplicate key 'a'"):
        get_format(name).extract(b'{"a": "x", "a": "y"}')


def test_flat_key_colliding_with_nested_path_is_refused() -> None:
    with pytest.raises(ResourceFormatError, match=r"duplicate key 'a\.b'"):
        get_format("json").extract(b'{"a.b": "x", "a": {"b": "y"}}')


def test_scalar_document_is_refused() -> None:
    with pytest.raises(ResourceFormatError, match="top level"):
        get_format("json").extract(b'"just a string"')


def test_invalid_utf8_says_where() -> None:
    with pytest.raises(ResourceFormatError, match="not UTF-8 at byte 7"):
        get_format("json").extract(b'{"a": "\xff"}')


def test_arb_must_be_an_object() -> None:
    with pytest.raises(ResourceFormatError, match="ARB"):
        get_format("arb").extract(b'["x"]')
