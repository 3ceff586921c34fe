"""Plural categories of a target language, from CLDR (via Babel).

A source file carries the source language's plural forms (English: "one" and "other"); the
translated file must carry the target language's (Polish: one, few, many, other; Japanese:
other only). Each target form takes the translation of the same source category, else of
"other": exact for the categories both languages share, a sound default for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale, UnknownLocaleError
from babel.messages.plurals import get_plural

#: CLDR's order, which is also the msgstr[] index order of the gettext rules Babel derives.
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")


def parse_locale(lang: str) -> Locale | None:
    """The CLDR locale of a BCP 47 or POSIX tag ("pt-BR", "pt_BR"), or None if unknown."""
    try:
        return Locale.parse(lang.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def categories(lang: str) -> tuple[str, ...] | None:
    """The plural categories `lang` uses, in CLDR order; None when CLDR does not know `lang`."""
    locale = parse_locale(lang)
    if locale is None:
        return None
    tags = set(locale.plural_form.tags) | {"other"}
    return tuple(c for c in CLDR_ORDER if c in tags)


def gettext_plural_forms(lang: str) -> str | None:
    """The PO `Plural-Forms` header value for `lang`, or None when CLDR does not know it."""
    locale = parse_locale(lang)
    if locale is None:
        return None
    rule = get_plural(locale)
    return f"nplurals={rule.num_plurals}; plural={rule.plural_expr};"


def reshape(forms: Mapping[str, str], lang: str) -> dict[str, str]:
    """Source forms (category → text) re-cut to `lang`'s categories; unknown `lang`: unchanged."""
    wanted = categories(lang)
    if wanted is None or not forms:
        return dict(forms)
    fallback = forms.get("other", list(forms.values())[-1])
    return {category: forms.get(category, fallback) for category in wanted}
