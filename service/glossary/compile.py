"""Compile a glossary into the file uploaded to Z.ai for ONE source→target pair.

Z.ai does not document a glossary layout (zai-api.md §11.1), so we pick the simplest form a
translator or model reads unambiguously: UTF-8 text, tab-separated, a header line
`<source>\\t<target>`, then one `term\\ttranslation` line per entry, sorted by term (Unicode code
point order). Do-not-translate terms map to themselves; forbidden terms are left out (they are
enforced after translation). Compilers are pluggable through `GlossaryCompiler` and `COMPILERS`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openpyxl import Workbook

from service.glossary.model import GlossaryDocument

_LAYOUT_BREAKS = re.compile(r"\s*[\t\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")
_EPOCH = datetime(2000, 1, 1)  # fixed XLSX metadata dates keep compiled bytes reproducible


class UnsupportedLanguagePair(ValueError):
    """The glossary cannot be compiled for the requested source language."""


@dataclass(frozen=True, slots=True)
class CompiledGlossary:
    filename: str
    content: bytes
    content_hash: str  # sha256 hex of `content`
    entry_count: int


class GlossaryCompiler(Protocol):
    name: str
    file_extension: str

    def compile(
        self, doc: GlossaryDocument, source_lang: str, target_lang: str
    ) -> CompiledGlossary: ...


def term_pairs(doc: GlossaryDocument, source_lang: str, target_lang: str) -> list[tuple[str, str]]:
    """(term, translation) pairs for one language pair, single-line and sorted."""
    if source_lang != doc.source_lang:
        msg = f"glossary source is {doc.source_lang!r}, cannot compile from {source_lang!r}"
        raise UnsupportedLanguagePair(msg)
    pairs: dict[str, str] = {}
    for entry in doc.entries:
        target = entry.target_text(target_lang)
        if entry.forbidden or target is None:
            continue
        # setdefault: two terms that flatten to the same line keep the first in sorted order
        pairs.setdefault(single_line(entry.term), single_line(target))
    return sorted(pairs.items())


def single_line(text: str) -> str:
    """Tabs and line breaks would corrupt the layout: fold them (and their padding) to a space."""
    return _LAYOUT_BREAKS.sub(" ", text).strip()


def _compiled(
    pair: tuple[str, str], extension: str, content: bytes, count: int
) -> CompiledGlossary:
    """Name carries the pair and a short hash, so Z.ai's file list shows what each upload is."""
    digest = hashlib.sha256(content).hexdigest()
    filename = f"glossary_{pair[0]}_{pair[1]}_{digest[:12]}{extension}"
    return CompiledGlossary(filename, content, digest, count)


class TsvTextCompiler:
    name = "tsv-txt"
    file_extension = ".txt"

    def compile(
        self, doc: GlossaryDocument, source_lang: str, target_lang: str
    ) -> CompiledGlossary:
        pairs = term_pairs(doc, source_lang, target_lang)
        lines = [f"{source_lang}\t{target_lang}", *(f"{s}\t{t}" for s, t in pairs)]
        content = "".join(f"{line}\n" for line in lines).encode("utf-8")
        pair = (source_lang, target_lang)
        return _compiled(pair, self.file_extension, content, len(pairs))


class XlsxCompiler:
    """Same layout as a one-sheet workbook; Z.ai lists xlsx among its upload formats."""

    name = "xlsx"
    file_extension = ".xlsx"

    def compile(
        self, doc: GlossaryDocument, source_lang: str, target_lang: str
    ) -> CompiledGlossary:
        pairs = term_pairs(doc, source_lang, target_lang)
        workbook = Workbook(write_only=True)
        workbook.properties.created = workbook.properties.modified = _EPOCH
        sheet = workbook.create_sheet("glossary")
        sheet.append([source_lang, target_lang])
        for pair in pairs:
            sheet.append(list(pair))
        buffer = io.BytesIO()
        workbook.save(buffer)
        content = _fixed_timestamps(buffer.getvalue())
        pair = (source_lang, target_lang)
        return _compiled(pair, self.file_extension, content, len(pairs))


def _fixed_timestamps(archive: bytes) -> bytes:
    """Rewrite zip member dates so the same glossary always compiles to the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


COMPILERS: dict[str, GlossaryCompiler] = {c.name: c for c in (TsvTextCompiler(), XlsxCompiler())}
DEFAULT_COMPILER = TsvTextCompiler.name


def get_compiler(name: str = DEFAULT_COMPILER) -> GlossaryCompiler:
    try:
        return COMPILERS[name]
    except KeyError:
        raise ValueError(
            f"unknown glossary compiler {name!r}; known: {sorted(COMPILERS)}"
        ) from None


def register_compiler(compiler: GlossaryCompiler) -> None:
    COMPILERS[compiler.name] = compiler
