"""Export a glossary as CSV (multilingual header layout) or TBX-Basic; both parse back to the
same content hash."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from service.glossary.model import GlossaryDocument, GlossaryEntry

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FLAGS = ("case_sensitive", "do_not_translate", "forbidden")
_TBX_FLAGS = {
    "case_sensitive": "caseSensitive",
    "do_not_translate": "doNotTranslate",
    "forbidden": "forbidden",
}


def export_csv(doc: GlossaryDocument) -> bytes:
    """UTF-8 CSV: `<source>,<targets…>,case_sensitive,do_not_translate,forbidden,note`."""
    targets = sorted(doc.target_langs)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([doc.source_lang, *targets, *_FLAGS, "note"])
    for entry in doc.entries:
        flags = ["true" if getattr(entry, flag) else "false" for flag in _FLAGS]
        texts = [entry.translations.get(lang, "") for lang in targets]
        writer.writerow([entry.term, *texts, *flags, entry.note or ""])
    return out.getvalue().encode("utf-8")


def export_tbx(doc: GlossaryDocument) -> bytes:
    """TBX-Basic (TBX v2 `martif`), flags as entry-level `<descrip>`, as parse_tbx reads them."""
    root = ET.Element("martif", {"type": "TBX-Basic", XML_LANG: doc.source_lang})
    header = ET.SubElement(ET.SubElement(root, "martifHeader"), "fileDesc")
    ET.SubElement(ET.SubElement(header, "sourceDesc"), "p").text = "Exported by zai-l10n"
    body = ET.SubElement(ET.SubElement(root, "text"), "body")
    for number, entry in enumerate(doc.entries, start=1):
        body.append(_term_entry(number, entry, doc.source_lang))
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}\n'.encode()


def _term_entry(number: int, entry: GlossaryEntry, source_lang: str) -> ET.Element:
    element = ET.Element("termEntry", {"id": f"e{number}"})
    for flag, tbx_type in _TBX_FLAGS.items():
        if getattr(entry, flag):
            ET.SubElement(element, "descrip", {"type": tbx_type}).text = "true"
    if entry.note:
        ET.SubElement(element, "note").text = entry.note
    for lang, text in [(source_lang, entry.term), *entry.translations.items()]:
        lang_set = ET.SubElement(element, "langSet", {XML_LANG: lang})
        ET.SubElement(ET.SubElement(lang_set, "tig"), "term").text = text
    return element
