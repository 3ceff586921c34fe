"""Android string resources (res/values/strings.xml), with lxml.

Extracted: `<string>` (id = name), each `<item>` of a `<string-array>` (id = `name[0]`, ...) and
each `<item quantity>` of `<plurals>` (id = `name[one]`, ...). Elements with
`translatable="false"` and every other resource type are kept verbatim. A comment right before
a resource becomes the unit's note. Android's backslash escapes (\\' \\" \\n \\t \\@ \\? \\uXXXX)
are decoded for translation and re-applied to the translation's text nodes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping

from lxml import etree

from service.l10n import plurals
from service.l10n.formats import xmlsafe
from service.l10n.formats.escapes import unescaper
from service.l10n.formats.model import ResourceFormatError, Unit, check_known, check_unique

#: Android resource escapes decoded: \n → newline, \' → ', \u00e9 → é, ...
unescape = unescaper({"n": "\n", "t": "\t"})

Located = tuple[Unit, etree._Element]


class AndroidFormat:
    name = "android"

    def extract(self, content: bytes) -> list[Unit]:
        return check_unique(unit for unit, _ in _located(_resources(content)))

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        tree = _resources(content)
        located = list(_located(tree))
        check_unique(unit for unit, _ in located)
        check_known(translations, (unit.id for unit, _ in located))
        for unit, element in located:
            if unit.id in translations:
                _write(element, translations[unit.id], unit.id)
        for element in tree.getroot().iterchildren("plurals"):
            if _translatable(element):
                _reshape(element, target_lang)
        return xmlsafe.serialize(tree, content)


def _resources(content: bytes) -> etree._ElementTree:
    tree = xmlsafe.parse(content)
    if tree.getroot().tag != "resources":
        raise ResourceFormatError(
            f"Android: root element is <{tree.getroot().tag!s}>, not <resources>"
        )
    return tree


def _located(tree: etree._ElementTree) -> Iterator[Located]:
    for element in tree.getroot().iterchildren("string", "string-array", "plurals"):
        if not _translatable(element):
            continue
        name = element.get("name")
        if not name:
            raise ResourceFormatError(
                f"Android: <{element.tag!s}> without name at line {element.sourceline}"
            )
        note = _note(element)
        for suffix, plural, node in _forms(element):
            text = _read(node)
            if text.strip():
                yield Unit(id=name + suffix, text=text, note=note, plural=plural), node


def _forms(element: etree._Element) -> Iterator[tuple[str, str | None, etree._Element]]:
    """(id suffix, plural category, text element) of one resource."""
    if element.tag == "string":
        yield "", None, element
    elif element.tag == "string-array":
        for index, item in enumerate(element.iterchildren("item")):
            yield f"[{index}]", None, item
    else:
        for item in element.iterchildren("item"):
            quantity = item.get("quantity", "")
            yield f"[{quantity}]", quantity, item


def _translatable(element: etree._Element) -> bool:
    return element.get("translatable", "true") != "false"


def _note(element: etree._Element) -> str | None:
    previous = element.getprevious()
    if isinstance(previous, etree._Comment) and previous.text:
        return previous.text.strip()
    return None


def _read(element: etree._Element) -> str:
    if not xmlsafe.has_markup(element):
        raw = element.text or ""
        quoted = len(raw) >= 2 and raw[0] == raw[-1] == '"'  # "..." keeps spaces and apostrophes
        return unescape(raw[1:-1] if quoted else raw)
    scratch = copy.deepcopy(element)
    xmlsafe.map_text_nodes(scratch, unescape)
    return xmlsafe.inner_text(scratch)


def _write(element: etree._Element, text: str, where: str) -> None:
    markup = xmlsafe.has_markup(element)
    xmlsafe.set_inner_text(element, text, markup, where)
    xmlsafe.map_text_nodes(element, escape)


def _reshape(element: etree._Element, target_lang: str) -> None:
    """Re-cut the `<item quantity>` children to the target language's plural categories."""
    items = {item.get("quantity", ""): item for item in element.iterchildren("item")}
    wanted = plurals.categories(target_lang)
    if wanted is None or "other" not in items or tuple(items) == wanted:
        return
    tails = [item.tail for item in items.values()]
    position = element.index(next(iter(items.values())))
    for item in items.values():
        element.remove(item)
    for offset, category in enumerate(wanted):
        item = items[category] if category in items else copy.deepcopy(items["other"])
        item.set("quantity", category)
        item.tail = tails[-1] if offset == len(wanted) - 1 else tails[0]
        element.insert(position + offset, item)


def escape(text: str) -> str:
    """Text made safe for an Android resource (apostrophes and quotes would end it early)."""
    text = text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    text = text.replace("\n", "\\n").replace("\t", "\\t")
    return "\\" + text if text[:1] in ("@", "?") else text
