"""TBX (TermBase eXchange) parsing: TBX-Basic / TBX v2 (`martif`) and TBX v3 (`tbx`).

Subset read: each termEntry/conceptEntry is one entry; its langSet/langSec (xml:lang) holds terms
in tig, ntig/termGrp or termSec elements. The source-language term is the entry's term, the first
term of every other language its translation (synonyms are ignored). Flags are entry-level
`<descrip type="caseSensitive|doNotTranslate|forbidden">true</descrip>`, the note an entry-level
`<note>`. `row` in problems is the 1-based entry ordinal (ElementTree keeps no line numbers).

defusedxml rejects entity declarations (billion laughs) and external references (XXE); a plain
DOCTYPE such as TBX v2's `<!DOCTYPE martif SYSTEM "TBXcoreStructV02.dtd">` is allowed but never
fetched.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from service.glossary.limits import GlossaryLimits
from service.glossary.model import (
    RawEntry,
    RawGlossary,
    normalize_lang,
    resolve_lang,
    unknown_lang_message,
)
from service.glossary.problems import Code, ProblemCollector, Where

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def parse_tbx(
    content: bytes,
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
) -> RawGlossary:
    root = _parse_xml(content, problems)
    if local(root.tag) not in ("martif", "tbx"):
        msg = f"root element is <{local(root.tag)}>, expected <martif> or <tbx>"
        raise problems.fail(Code.MALFORMED_XML, msg)
    source = _source_lang(root, source_lang, problems)
    entries: list[RawEntry] = []
    concepts = (e for e in root.iter() if local(e.tag) in ("termEntry", "conceptEntry"))
    for row, concept in enumerate(concepts, start=1):
        if row > limits.max_entries:
            problems.add(Code.TOO_MANY_ENTRIES, f"more than {limits.max_entries} entries", row=row)
            break
        if problems.full:
            break
        entries.append(_entry(row, concept, source, problems))
    return RawGlossary(source, entries)


def _parse_xml(content: bytes, problems: ProblemCollector) -> ET.Element:
    try:
        return SafeET.fromstring(content, forbid_dtd=False, forbid_entities=True)
    except DefusedXmlException as exc:
        msg = f"XML entity declarations and external references are not allowed ({exc})"
        raise problems.fail(Code.UNSAFE_XML, msg) from exc
    except ET.ParseError as exc:
        line, column = exc.position
        msg = f"malformed XML at line {line}, column {column}: {exc}"
        raise problems.fail(Code.MALFORMED_XML, msg, row=line) from exc


def _source_lang(root: ET.Element, source_lang: str | None, problems: ProblemCollector) -> str:
    """The caller's source language wins; otherwise the root's xml:lang (TBX's main language)."""
    if source_lang is not None:
        return source_lang
    declared = root.get(XML_LANG)
    if declared is None:
        msg = "no source language: set xml:lang on the root element or pass source_lang"
        raise problems.fail(Code.MISSING_LANGUAGE, msg)
    lang = resolve_lang(declared, source=True)
    if lang is None:
        msg = unknown_lang_message(declared, source=True)
        raise problems.fail(Code.UNKNOWN_LANGUAGE, msg, field="xml:lang")
    return lang


def _entry(row: int, concept: ET.Element, source: str, problems: ProblemCollector) -> RawEntry:
    term = ""
    translations: dict[str, str] = {}
    for lang_set in (c for c in concept if local(c.tag) in ("langSet", "langSec")):
        declared = lang_set.get(XML_LANG, "")
        lang = (
            source if normalize_lang(declared) == source else resolve_lang(declared, source=False)
        )
        where: Where = {"row": row, "field": f"langSet[{declared}]"}
        if not declared:
            problems.add(Code.MISSING_LANGUAGE, "a langSet has no xml:lang", **where)
        elif lang is None:
            problems.add(
                Code.UNKNOWN_LANGUAGE, unknown_lang_message(declared, source=False), **where
            )
        elif lang == source and not term:
            term = _first_term(lang_set)
        elif lang in translations or lang == source:
            problems.add(Code.DUPLICATE_COLUMN, f"language {lang!r} appears twice", **where)
        else:
            translations[lang] = _first_term(lang_set)
    note = next((_text(c) for c in concept if local(c.tag) == "note"), None)
    return RawEntry(
        row,
        term,
        tuple(translations.items()),
        case_sensitive=_flag(concept, "caseSensitive"),
        do_not_translate=_flag(concept, "doNotTranslate"),
        forbidden=_flag(concept, "forbidden"),
        note=note,
    )


def _first_term(lang_set: ET.Element) -> str:
    return next((_text(e) for e in lang_set.iter() if local(e.tag) == "term"), "")


def _flag(concept: ET.Element, tbx_type: str) -> bool:
    for element in concept:
        if local(element.tag) in ("descrip", "admin") and element.get("type") == tbx_type:
            return _text(element).strip().casefold() in ("true", "yes", "1")
    return False


def _text(element: ET.Element) -> str:
    return "".join(element.itertext())  # terms may carry inline markup such as <hi>


def local(tag: str) -> str:
    """Tag without namespace: TBX v3 puts everything in urn:iso:std:iso:30042:ed-2."""
    return tag.rsplit("}", 1)[-1]
