"""The service's one map from a language code to its CLDR plural categories (Babel's data).

Both plural paths use it: ICU `plural` / `selectordinal` rebuilding (`icu.py`) and the file
formats' plural forms (`formats/*`: PO, Android `<plurals>`, i18next JSON, YAML). Pure: no I/O,
no state beyond a cache of Babel look-ups.

A source carries the source language's forms (English: `one`, `other`); the target gets the
target language's (Polish: `one`, `few`, `many`, `other`; Japanese: `other` only). `reshape`
gives each target category the source text of the same category, else of `other`: exact for
the categories both languages share, a sound default (to review) for the rest.

Language codes (documented choice). Codes are matched case-insensitively, `_` or `-` alike.

- Z.ai codes that are not CLDR locale ids are mapped to the locale whose grammar they follow
  (`ALIASES`): `zh-CN` → `zh_Hans_CN`, `zh-TW` → `zh_Hant_TW`; `no` (Norwegian, the
  macrolanguage) → `nb` (Bokmål, what CLDR and translators mean by written Norwegian);
  `wyw` (Classical Chinese, ISO `lzh`, not in CLDR) → `zh_Hant`; `Pinyin` (romanised
  Mandarin) → `zh`. Chinese has no grammatical number, so all three get `other` only.
- A tag Babel knows the language of but not the whole tag (`en-XX`, `no-NO`) falls back to
  its language subtag (`en`, then `nb` via the aliases): plural rules follow the language.
- Anything else (`IPA`, a phonetic transcription with no grammar of its own; private or
  unknown tags): `categories` is None and `reshape` returns the source forms unchanged. We
  never invent `("other",)` for it: dropping the source's `one` would lose text silently,
  while keeping the source's forms is lossless and what a reviewer expects for "no rules".

`gettext_plural_forms` is the PO header: Babel's gettext table (gettext's own conventions,
which for a few languages such as Polish or Vietnamese count fewer forms than CLDR); callers
must check that the counts match before numbering forms by CLDR category.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final, TypeVar

from babel import Locale, UnknownLocaleError
from babel.messages.plurals import get_plural

T = TypeVar("T")

#: CLDR's order, which is also the msgstr[] index order of CLDR-derived gettext rules.
CLDR_ORDER: Final = ("zero", "one", "two", "few", "many", "other")

#: Z.ai target codes (lower case) → the CLDR locale whose plural rules they follow.
ALIASES: Final[Mapping[str, str]] = {
    "zh-cn": "zh_Hans_CN",
    "zh-tw": "zh_Hant_TW",
    "no": "nb",
    "wyw": "zh_Hant",
    "pinyin": "zh",
}


def parse_locale(lang: str) -> Locale | None:
    """The CLDR locale a language code follows ("pt-BR", "pt_BR", "no", "wyw"), or None."""
    return _parse(lang.replace("_", "-").lower())


@lru_cache(maxsize=256)
def _parse(tag: str) -> Locale | None:
    try:
        return _babel(tag)
    except UnknownLocaleError:
        # Well-formed but unknown as a whole (`en-XX`): the language subtag's rules apply.
        language = tag.partition("-")[0]
        if language == tag:
            return None
        try:
            return _babel(language)
        except (UnknownLocaleError, ValueError):
            return None
    except ValueError:
        return None  # not a locale identifier at all (`my-app`): never guess a language


def _babel(tag: str) -> Locale:
    alias = ALIASES.get(tag)
    return Locale.parse(alias) if alias else Locale.parse(tag, sep="-")


@lru_cache(maxsize=256)
def categories(lang: str, *, ordinal: bool = False) -> tuple[str, ...] | None:
    """The cardinal (or ordinal) categories of `lang` in CLDR order, `other` included; None
    when no CLDR locale applies (callers keep the source's forms)."""
    locale = parse_locale(lang)
    if locale is None:
        return None
    tags = set((locale.ordinal_form if ordinal else locale.plural_form).tags) | {"other"}
    return tuple(c for c in CLDR_ORDER if c in tags)


def reshape(forms: Mapping[str, T], lang: str, *, ordinal: bool = False) -> dict[str, T]:
    """Source forms (category → value) re-cut to `lang`'s categories, in CLDR order; a missing
    category takes the `other` form (else the last one). Unknown `lang`: unchanged."""
    wanted = categories(lang, ordinal=ordinal)
    if wanted is None or not forms:
        return dict(forms)
    fallback = forms["other"] if "other" in forms else list(forms.values())[-1]
    return {category: forms.get(category, fallback) for category in wanted}


def gettext_plural_forms(lang: str) -> str | None:
    """The PO `Plural-Forms` header value for `lang`, or None when no CLDR locale applies."""
    locale = parse_locale(lang)
    if locale is None:
        return None
    rule = get_plural(locale)
    return f"nplurals={rule.num_plurals}; plural={rule.plural_expr};"
