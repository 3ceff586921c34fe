"""gettext PO (and POT), with polib.

Extracted: every entry that is not obsolete and not the header; id = msgid, or
`msgctxt + "\\x04" + msgid` when there is a context (gettext's own key). A plural entry gives two
units, `<id>[one]` (msgid) and `<id>[other]` (msgid_plural); merge fills msgstr[0..n-1] for the
target language's CLDR plural forms (Babel) and sets the `Language` and `Plural-Forms` headers.
Comments, references, flags, previous msgids, obsolete entries and the header comment are kept;
polib re-wraps long lines at 78 columns and puts header fields in their standard order.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping

import polib

from service.l10n import plurals
from service.l10n.formats.model import ResourceFormatError, Unit, check_known, check_unique

_CHARSET = re.compile(rb"charset=([A-Za-z0-9_.:-]+)")
_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")


class PoFormat:
    name = "po"

    def extract(self, content: bytes) -> list[Unit]:
        po, _ = _load(content)
        return check_unique(unit for entry in _entries(po) for unit in _units(entry))

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        po, charset = _load(content)
        units = check_unique(unit for entry in _entries(po) for unit in _units(entry))
        check_known(translations, (unit.id for unit in units))
        _set_headers(po, target_lang)
        nplurals = _nplurals(po)
        for entry in _entries(po):
            _fill(entry, translations, target_lang, nplurals)
        return str(po).encode(charset)


def _load(content: bytes) -> tuple[polib.POFile, str]:
    charset = _charset(content)
    try:
        text = content.decode(charset)
    except UnicodeDecodeError as exc:
        raise ResourceFormatError(f"PO: not {charset} at byte {exc.start}") from exc
    # polib reads a file when given a string that names one: a trailing newline rules that out.
    text = text.removeprefix("\ufeff") + ("" if text.endswith("\n") else "\n")
    try:
        return polib.pofile(text, check_for_duplicates=True), charset
    except (OSError, ValueError) as exc:
        raise ResourceFormatError(f"PO: {exc}") from exc


def _charset(content: bytes) -> str:
    """The header's charset when Python knows it, else UTF-8 (also for "CHARSET" in a POT)."""
    match = _CHARSET.search(content)
    if match is None:
        return "utf-8"
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return "utf-8"


def _entries(po: polib.POFile) -> Iterator[polib.POEntry]:
    return (entry for entry in po if not entry.obsolete and entry.msgid)


def _key(entry: polib.POEntry) -> str:
    return entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"


def _units(entry: polib.POEntry) -> list[Unit]:
    notes = "\n".join(c for c in (entry.comment, entry.tcomment) if c) or None
    key, context = _key(entry), entry.msgctxt
    if not entry.msgid_plural:
        return [Unit(id=key, text=entry.msgid, context=context, note=notes)]
    return [
        Unit(id=f"{key}[one]", text=entry.msgid, context=context, note=notes, plural="one"),
        Unit(f"{key}[other]", entry.msgid_plural, context=context, note=notes, plural="other"),
    ]


def _set_headers(po: polib.POFile, target_lang: str) -> None:
    po.metadata["Language"] = target_lang
    plural_forms = plurals.gettext_plural_forms(target_lang)
    if plural_forms is not None:
        po.metadata["Plural-Forms"] = plural_forms


def _nplurals(po: polib.POFile) -> int:
    match = _NPLURALS.search(po.metadata.get("Plural-Forms", ""))
    return int(match.group(1)) if match else 2


def _fill(
    entry: polib.POEntry, translations: Mapping[str, str], target_lang: str, nplurals: int
) -> None:
    key = _key(entry)
    if not entry.msgid_plural:
        entry.msgstr = translations.get(key, entry.msgstr)
        return
    forms = {
        c: translations[f"{key}[{c}]"] for c in ("one", "other") if f"{key}[{c}]" in translations
    }
    if not forms:
        return
    forms = {"one": entry.msgid, "other": entry.msgid_plural, **forms}
    entry.msgstr_plural = dict(enumerate(_by_index(forms, target_lang, nplurals)))


def _by_index(forms: dict[str, str], target_lang: str, nplurals: int) -> list[str]:
    """msgstr[i] texts: Babel's gettext rules number CLDR categories in CLDR order."""
    categories = plurals.categories(target_lang)
    if categories is not None and len(categories) == nplurals:
        reshaped = plurals.reshape(forms, target_lang)
        return [reshaped[category] for category in categories]
    if nplurals == 1:
        return [forms["other"]]
    return [forms["one"]] + [forms["other"]] * (nplurals - 1)
