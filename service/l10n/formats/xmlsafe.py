"""Safe lxml parsing and writing for the XML formats (XLIFF, Android), and inline markup access.

lxml keeps what a translated file must keep: comments, processing instructions, CDATA,
namespace prefixes and the XML declaration. The parser never loads a DTD, never resolves
entities and never touches the network; a document with a DOCTYPE at all is refused, since
entity tricks (XXE, "billion laughs") all need one and localization files do not.

A string whose element has child elements (XLIFF inline codes, Android `<b>` or `<xliff:g>`)
travels as inline markup, serialized in the element's namespace scope; plain strings travel as
plain text (entities decoded). The pipeline's placeholder protection guards the markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from lxml import etree

from service.l10n.formats.model import ResourceFormatError

_PROLOG = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep state and are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
    )


def parse(content: bytes) -> etree._ElementTree:
    """The document tree, or ResourceFormatError for malformed or DOCTYPE-carrying XML."""
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise ResourceFormatError(f"malformed XML at line {exc.lineno}: {exc.msg}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ResourceFormatError("XML with a DOCTYPE is refused (entities are not allowed)")
    return tree


def serialize(tree: etree._ElementTree, original: bytes) -> bytes:
    """The tree as bytes, with the original XML declaration and final newline."""
    encoding = tree.docinfo.encoding or "UTF-8"
    body = etree.tostring(tree, encoding=encoding, xml_declaration=False)
    prolog = _PROLOG.match(original)
    head = prolog.group(0).lstrip() + b"\n" if prolog else b""
    tail = b"\n" if original.rstrip(b" \t").endswith(b"\n") else b""
    return head + body + tail


def has_markup(element: etree._Element) -> bool:
    return len(element) > 0


def inner_text(element: etree._Element) -> str:
    """Plain text of a childless element, else its inner markup."""
    if not has_markup(element):
        return element.text or ""
    markup = etree.tostring(element, encoding="unicode", with_tail=False)
    return markup[markup.index(">") + 1 : markup.rindex("</")]


def set_inner_text(element: etree._Element, text: str, markup: bool, where: str) -> None:
    """Replace the content of `element` with plain `text`, or with `text` parsed as markup."""
    for child in list(element):
        element.remove(child)
    if not markup:
        element.text = text
        return
    wrapper = parse_fragment(text, element.nsmap, where)
    element.text = wrapper.text
    element.extend(list(wrapper))


def parse_fragment(text: str, nsmap: dict[str | None, str], where: str) -> etree._Element:
    """`text` as the content of a wrapper element that declares `nsmap`."""
    declarations = " ".join(
        f"xmlns{':' + prefix if prefix else ''}={quoteattr(uri)}" for prefix, uri in nsmap.items()
    )
    try:
        return etree.fromstring(f"<w {declarations}>{text}</w>".encode(), _parser())
    except etree.XMLSyntaxError as exc:
        raise ResourceFormatError(f"{where}: translation is not well-formed markup") from exc


def map_text_nodes(element: etree._Element, change: Callable[[str], str]) -> None:
    """Apply `change` to every text node inside `element` (not to attributes or its own tail)."""
    if element.text:
        element.text = change(element.text)
    for child in element.iterdescendants():
        if child.text and not isinstance(child, etree._Comment | etree._ProcessingInstruction):
            child.text = change(child.text)
        if child.tail:
            child.tail = change(child.tail)
