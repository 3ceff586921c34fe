"""CLDR plural categories and the re-cutting of source forms to a target language."""

from __future__ import annotations

import pytest

from service.l10n.formats import plurals

FORMS = {"one": "1 file", "other": "n files"}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ("one", "other")),
        ("pl", ("one", "few", "many", "other")),
        ("ar", ("zero", "one", "two", "few", "many", "other")),
        ("ja", ("other",)),
        ("pt-BR", ("one", "many", "other")),
        ("zh_Hans", ("other",)),
        ("x-unknown", None),
        ("", None),
    ],
)
def test_categories(lang: str, expected: tuple[str, ...] | None) -> None:
    assert plurals.categories(lang) == expected


def test_reshape_fills_new_categories_from_other() -> None:
    assert plurals.reshape(FORMS, "pl") == {
        "one": "1 file",
        "few": "n files",
        "many": "n files",
        "other": "n files",
    }


def test_reshape_drops_categories_the_target_lacks() -> None:
    assert plurals.reshape(FORMS, "ja") == {"other": "n files"}


def test_reshape_keeps_forms_for_an_unknown_language() -> None:
    assert plurals.reshape(FORMS, "x-unknown") == FORMS


def test_gettext_plural_forms() -> None:
    assert plurals.gettext_plural_forms("de") == "nplurals=2; plural=(n != 1);"
    assert plurals.gettext_plural_forms("ja") == "nplurals=1; plural=0;"
    assert plurals.gettext_plural_forms("x-unknown") is None
