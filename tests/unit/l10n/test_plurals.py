"""The one CLDR plural map (`service.l10n.plurals`) and the two paths that use it.

The ICU rebuilder (`plural` / `selectordinal` messages) and the file formats (YAML, Android
`<plurals>`, i18next) must give every Z.ai target language the same categories and the same
texts, including the codes CLDR does not know as such (`no`, `wyw`, `Pinyin`, `IPA`).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from lxml import etree

from service.l10n import icu, plurals
from service.l10n.formats import get_format
from service.l10n.protect import Placeholder, mask, restore
from service.languages import TARGET_LANGS

FORMS = {"one": "1 file", "other": "n files"}


# --- the map ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ("one", "other")),
        ("en-GB", ("one", "other")),
        ("pl", ("one", "few", "many", "other")),
        ("ar", ("zero", "one", "two", "few", "many", "other")),
        ("ja", ("other",)),
        ("pt-BR", ("one", "many", "other")),
        ("zh_Hans", ("other",)),
        ("zh-CN", ("other",)),
        ("zh-TW", ("other",)),
        ("no", ("one", "other")),  # Norwegian → Bokmål
        ("no-NO", ("one", "other")),  # unknown as a whole: the language's rules
        ("wyw", ("other",)),  # Classical Chinese → Chinese
        ("Pinyin", ("other",)),  # romanised Mandarin → Chinese
        ("pinyin", ("other",)),
        ("IPA", None),  # a transcription: no rules, the source's forms stay
        ("x-unknown", None),
        ("", None),
    ],
)
def test_categories(lang: str, expected: tuple[str, ...] | None) -> None:
    assert plurals.categories(lang) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ("one", "two", "few", "other")),
        ("de", ("other",)),
        ("no", ("other",)),
        ("wyw", ("other",)),
        ("IPA", None),
    ],
)
def test_ordinal_categories(lang: str, expected: tuple[str, ...] | None) -> None:
    assert plurals.categories(lang, ordinal=True) == expected


@pytest.mark.parametrize(
    ("lang", "locale"),
    [("no", "nb"), ("wyw", "zh_Hant"), ("Pinyin", "zh"), ("zh-TW", "zh_Hant_TW"), ("en-XX", "en")],
)
def test_parse_locale_maps_service_codes(lang: str, locale: str) -> None:
    assert str(plurals.parse_locale(lang)) == locale


@pytest.mark.parametrize("key", ["IPA", "my-app", "app", ""])
def test_parse_locale_does_not_guess_from_a_non_locale(key: str) -> None:
    assert plurals.parse_locale(key) is None  # YAML uses this to spot a locale root key


def test_reshape_fills_new_categories_from_other() -> None:
    assert plurals.reshape(FORMS, "pl") == {
        "one": "1 file",
        "few": "n files",
        "many": "n files",
        "other": "n files",
    }


def test_reshape_drops_categories_the_target_lacks() -> None:
    assert plurals.reshape(FORMS, "ja") == {"other": "n files"}


@pytest.mark.parametrize("lang", ["x-unknown", "IPA"])
def test_reshape_keeps_forms_for_an_unknown_language(lang: str) -> None:
    assert plurals.reshape(FORMS, lang) == FORMS


def test_gettext_plural_forms() -> None:
    assert plurals.gettext_plural_forms("de") == "nplurals=2; plural=(n != 1);"
    assert plurals.gettext_plural_forms("ja") == "nplurals=1; plural=0;"
    assert plurals.gettext_plural_forms("no") == "nplurals=2; plural=(n != 1);"
    assert plurals.gettext_plural_forms("wyw") == "nplurals=1; plural=0;"
    assert plurals.gettext_plural_forms("IPA") is None
    assert plurals.gettext_plural_forms("x-unknown") is None


def test_there_is_one_map() -> None:
    assert importlib.util.find_spec("service.l10n.formats.plurals") is None
    assert not hasattr(icu, "plural_categories")


# --- ICU path == file-format path, for every target language ----------------------------------


def icu_forms(lang: str, kind: str = "plural", source: dict[str, str] = FORMS) -> dict[str, str]:
    """Branches (without `=N`) of a rebuilt ICU message; each unit "translated" as itself."""
    branches = " ".join(f"{key} {{{text}}}" for key, text in source.items())
    tree = icu.parse(f"{{n, {kind}, =0 {{none}} {branches}}}")
    (choice,) = icu.parse(icu.rebuild(tree, [_as_is(u) for u in icu.units(tree)], lang).text)
    assert isinstance(choice, icu.Choice)
    return {key: icu.render(msg) for key, msg in choice.branches if not key.startswith("=")}


def _as_is(unit: icu.Unit) -> tuple[str | Placeholder, ...]:
    """The unit "translated" as itself, its ICU syntax restored."""
    masked = mask(list(unit.pieces))
    return restore(masked.text, masked).parts


def yaml_forms(lang: str) -> dict[str, str]:
    content = "".join(f"  {key}: {text}\n" for key, text in FORMS.items())
    fmt = get_format("yaml")
    source = f"n:\n{content}".encode()
    output = fmt.merge(source, {unit.id: unit.text for unit in fmt.extract(source)}, lang)
    lines = output.decode().splitlines()[1:]
    return dict(line.strip().split(": ", 1) for line in lines)


def android_forms(lang: str) -> dict[str, str]:
    items = "".join(f'<item quantity="{key}">{text}</item>' for key, text in FORMS.items())
    source = f'<resources><plurals name="n">{items}</plurals></resources>'.encode()
    fmt = get_format("android")
    output = fmt.merge(source, {unit.id: unit.text for unit in fmt.extract(source)}, lang)
    return {i.get("quantity", ""): i.text or "" for i in etree.fromstring(output).iter("item")}


def i18next_forms(lang: str) -> dict[str, str]:
    source = json.dumps({f"n_{key}": text for key, text in FORMS.items()}).encode()
    fmt = get_format("i18next")
    output = fmt.merge(source, {unit.id: unit.text for unit in fmt.extract(source)}, lang)
    return {key.removeprefix("n_"): text for key, text in json.loads(output).items()}


@pytest.mark.parametrize("lang", sorted(TARGET_LANGS))
def test_icu_and_file_formats_agree(lang: str) -> None:
    expected = plurals.reshape(FORMS, lang)
    assert icu_forms(lang) == expected
    assert yaml_forms(lang) == expected
    assert android_forms(lang) == expected
    assert i18next_forms(lang) == expected
    wanted = plurals.categories(lang)
    assert tuple(expected) == (wanted if wanted is not None else tuple(FORMS))


@pytest.mark.parametrize("lang", sorted(TARGET_LANGS))
def test_icu_selectordinal_follows_the_ordinal_map(lang: str) -> None:
    source = {"one": "#st", "two": "#nd", "few": "#rd", "other": "#th"}
    wanted = plurals.categories(lang, ordinal=True)
    assert tuple(icu_forms(lang, "selectordinal", source)) == (wanted or tuple(source))


@pytest.mark.parametrize(
    ("lang", "categories"),
    [
        ("no", ("one", "other")),
        ("wyw", ("other",)),
        ("Pinyin", ("other",)),
        ("pl", ("one", "few", "many", "other")),
        ("ja", ("other",)),
        ("ar", ("zero", "one", "two", "few", "many", "other")),
        ("IPA", ("one", "other")),  # no rules: the source's forms, unchanged
    ],
)
def test_both_paths_for_the_codes_that_used_to_disagree(
    lang: str, categories: tuple[str, ...]
) -> None:
    assert tuple(icu_forms(lang)) == tuple(yaml_forms(lang)) == categories
    assert tuple(android_forms(lang)) == tuple(i18next_forms(lang)) == categories


def test_english_ordinals_on_the_icu_path() -> None:
    source = {"one": "#st", "two": "#nd", "few": "#rd", "other": "#th"}
    assert icu_forms("en", "selectordinal", source) == source
    assert icu_forms("de", "selectordinal", source) == {"other": "#th"}
