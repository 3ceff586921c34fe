"""ICU MessageFormat: parse, list the text to translate, rebuild for the target language.

Why our own parser: the PyPI parsers are either unmaintained since 2021 (`pyicumessageformat`,
parse-only, no serializer, no source positions) or bound to native builds (PyICU needs the ICU
C++ library; the Rust-backed ones are months old). We need a parse → edit → print round trip
that reproduces arguments exactly, which is a small recursive-descent parser (~150 lines).

Syntax covered: simple arguments (`{n}`, `{n, number}`, `{d, date, short}`, `{x, number,
::currency/EUR}`), `plural` / `selectordinal` (with `offset:N`, `=N` exact branches, `#`),
`select`, nesting, and ICU apostrophe quoting (`''` is an apostrophe; `'` before `{`, `}` or,
in plural branches, `#` starts a literal section).

Translation units: every message (the top level or a branch) holding non-blank text becomes a
`Unit` whose arguments, `#` and nested plural/select messages are `Keep` spans for
`protect.mask`, so the model sees one sentence, may move them, and cannot change them. Nested
messages' branches are units of their own.

Plural categories (documented choice): a rebuilt `plural` / `selectordinal` carries exactly the
CLDR cardinal / ordinal categories of the target language, from `service.l10n.plurals` (the
same map and language-code rules as the file formats), plus every `=N` branch of the source.
A category the source lacks (Polish `few`, `many`) is filled with the translation of the
source's `other` branch and listed in `Rebuilt.filled`, for review; source categories the
target does not use (English `one` in Japanese) are dropped and listed in `Rebuilt.dropped`.
A language without CLDR rules (`IPA`) keeps the source's branches as they are.
"""

from __future__ import annotations

from service.l10n.icu.syntax import (
    CHOICE_KINDS,
    Arg,
    Choice,
    Hash,
    IcuError,
    Message,
    Part,
    Text,
    escape,
    has_choice,
    parse,
    render,
    try_parse,
)
from service.l10n.icu.units import Rebuilt, Unit, rebuild, units

__all__ = [
    "CHOICE_KINDS",
    "Arg",
    "Choice",
    "Hash",
    "IcuError",
    "Message",
    "Part",
    "Rebuilt",
    "Text",
    "Unit",
    "escape",
    "has_choice",
    "parse",
    "rebuild",
    "render",
    "try_parse",
    "units",
]
