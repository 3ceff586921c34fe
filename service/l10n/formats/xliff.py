"""XLIFF 1.2 and 2.0, with lxml.

1.2: each `<trans-unit>` (id = its id) under `<file>/<body>`, groups included; `translate="no"`
on a unit or an enclosing group skips it. The translation goes into `<target state="translated">`
(created right after `<source>`), and `<file target-language>` is set.

2.0: each `<segment>` of a `<unit>` (id = the unit id, or `unit[0]`, `unit[1]`, ... when a unit
has several segments); `translate="no"` on a file, group or unit skips it. The translation goes
into the segment's `<target>` (state="translated" on the segment), and `<xliff trgLang>` is set.

In a document with several `<file>`s, ids are prefixed with the file's `original` (1.2) or `id`
(2.0) and "/". Notes become the unit's note; 1.2 `resname` and 2.0 `name` its context.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lxml import etree

from service.l10n.formats import xmlsafe
from service.l10n.formats.model import ResourceFormatError, Unit, check_known, check_unique

NS12 = "urn:oasis:names:tc:xliff:document:1.2"
NS20 = "urn:oasis:names:tc:xliff:document:2.0"

Located = tuple[Unit, etree._Element]


@dataclass(frozen=True)
class _Dialect:
    """What differs between XLIFF 1.2 and 2.0."""

    ns: str
    unit: str  # the element that holds source/target pairs
    file_key: str  # the <file> attribute that names a file
    context_attr: str

    def q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"


_V12 = _Dialect(NS12, "trans-unit", "original", "resname")
_V20 = _Dialect(NS20, "segment", "id", "name")


class XliffFormat:
    def __init__(self, name: str, dialect: _Dialect) -> None:
        self.name = name
        self._dialect = dialect

    def extract(self, content: bytes) -> list[Unit]:
        return check_unique(unit for unit, _ in self._located(self._parse(content)))

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        tree = self._parse(content)
        located = list(self._located(tree))
        check_unique(unit for unit, _ in located)
        check_known(translations, (unit.id for unit, _ in located))
        for unit, holder in located:
            if unit.id in translations:
                self._write(holder, translations[unit.id], unit.id)
        self._set_language(tree.getroot(), target_lang)
        return xmlsafe.serialize(tree, content)

    def _parse(self, content: bytes) -> etree._ElementTree:
        tree = xmlsafe.parse(content)
        if tree.getroot().tag != self._dialect.q("xliff"):
            expected = self._dialect.q("xliff")
            raise ResourceFormatError(
                f"{self.name}: root is {tree.getroot().tag!s}, not {expected}"
            )
        return tree

    def _located(self, tree: etree._ElementTree) -> Iterator[Located]:
        files = list(tree.getroot().iterchildren(self._dialect.q("file")))
        for file in files:
            prefix = f"{file.get(self._dialect.file_key, '')}/" if len(files) > 1 else ""
            for unit, holder in self._in(file, translatable=True):
                yield Unit(prefix + unit.id, unit.text, unit.context, unit.note), holder

    def _in(self, node: etree._Element, translatable: bool) -> Iterator[Located]:
        """Units under `node` in document order; `translate` is inherited from ancestors."""
        translatable = node.get("translate", "yes" if translatable else "no") != "no"
        if node.tag == self._dialect.q("trans-unit"):
            if translatable:
                yield from self._unit12(node)
        elif node.tag == self._dialect.q("unit"):
            if translatable:
                yield from self._unit20(node)
        else:
            for child in node.iterchildren(etree.Element):
                yield from self._in(child, translatable)

    def _unit12(self, unit: etree._Element) -> Iterator[Located]:
        source = unit.find(self._dialect.q("source"))
        if source is None:
            raise ResourceFormatError(f"{self.name}: trans-unit {unit.get('id')!r} has no source")
        text = xmlsafe.inner_text(source)
        if text.strip():
            yield self._unit(unit, unit.get("id"), text), unit

    def _unit20(self, unit: etree._Element) -> Iterator[Located]:
        segments = list(unit.iterchildren(self._dialect.q("segment")))
        for index, segment in enumerate(segments):
            source = segment.find(self._dialect.q("source"))
            text = xmlsafe.inner_text(source) if source is not None else ""
            suffix = f"[{index}]" if len(segments) > 1 else ""
            if text.strip():
                yield self._unit(unit, f"{unit.get('id')}{suffix}", text), segment

    def _unit(self, unit: etree._Element, unit_id: str | None, text: str) -> Unit:
        if not unit_id:
            raise ResourceFormatError(f"{self.name}: unit without id at line {unit.sourceline}")
        notes = [n.text.strip() for n in unit.iter(self._dialect.q("note")) if n.text]
        return Unit(
            id=unit_id,
            text=text,
            context=unit.get(self._dialect.context_attr),
            note="\n".join(notes) or None,
        )

    def _write(self, holder: etree._Element, text: str, where: str) -> None:
        """Fill (or create) the target of a 1.2 trans-unit or a 2.0 segment."""
        source = holder.find(self._dialect.q("source"))
        assert source is not None  # only units with a source were located
        target = holder.find(self._dialect.q("target"))
        if target is None:
            target = holder.makeelement(self._dialect.q("target"))
            segmented = holder.find(self._dialect.q("seg-source"))
            anchor = segmented if segmented is not None else source
            anchor.addnext(target)
            # The target takes over the anchor's tail and the anchor gets its own indentation.
            previous = anchor.getprevious()
            target.tail = anchor.tail
            anchor.tail = holder.text if previous is None else previous.tail
        xmlsafe.set_inner_text(target, text, xmlsafe.has_markup(source), where)
        (target if self._dialect is _V12 else holder).set("state", "translated")

    def _set_language(self, root: etree._Element, target_lang: str) -> None:
        if self._dialect is _V20:
            root.set("trgLang", target_lang)
            return
        for file in root.iterchildren(self._dialect.q("file")):
            file.set("target-language", target_lang)


XLIFF12 = XliffFormat("xliff12", _V12)
XLIFF20 = XliffFormat("xliff20", _V20)


def xliff_version(root: etree._Element) -> str | None:
    """ "xliff12" or "xliff20" from the root's namespace, else None."""
    return {f"{{{NS12}}}xliff": "xliff12", f"{{{NS20}}}xliff": "xliff20"}.get(str(root.tag))
