"""Export a glossary as CSV (multilingual header layout) or TBX-Basic; both parse back to the
same content hash."""

from __future__ import annotations

import csv
import io
import re
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
    """UTF-8 CSV: `<source>,<targets…>,case_sensitive,do_not_translate,forbidden,note`, each
    text cell a spreadsheet would run as a formula escaped (`escape_formula`)."""
    targets = sorted(doc.target_langs)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([doc.source_lang, *targets, *_FLAGS, "note"])
    for entry in doc.entries:
        flags = ["true" if getattr(entry, flag) else "false" for flag in _FLAGS]
        texts = [entry.translations.get(lang, "") for lang in targets]
        cells = [entry.term, *texts, entry.note or ""]
        escaped = [escape_formula(cell) for cell in cells]
        writer.writerow([*escaped[:-1], *flags, escaped[-1]])
    return out.getvalue().encode("utf-8")


# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel,
# LibreOffice or Google Sheets (`=HYPERLINK(…)`, `@SUM(…)`, `-2+3`). A leading quote makes the
# spreadsheet show the cell as text. Cells already starting with quotes before such a character
# get one more, so that `unescape_formula` (the CSV reader's) gives back exactly the text.
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def escape_formula(cell: str) -> str:
    return f"'{cell}" if _FORMULA.match(cell) else cell


def unescape_formula(cell: str) -> str:
    """The text `escape_formula` escaped (any other cell as it is)."""
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell


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
