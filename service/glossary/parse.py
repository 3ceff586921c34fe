"""Entry point for glossary uploads: detect the format, parse it, validate into a document.

Format modules turn bytes into a `RawGlossary` and report structural problems (encoding, syntax,
headers); `build_document` applies the format-independent rules (empty terms, duplicates, sizes,
counts) so every format is validated the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath

from service.glossary import parse_csv, parse_json, parse_tbx, parse_xlsx
from service.glossary.limits import GlossaryLimits
from service.glossary.model import (
    GlossaryDocument,
    GlossaryEntry,
    RawEntry,
    RawGlossary,
    resolve_lang,
    unknown_lang_message,
)
from service.glossary.problems import Code, ProblemCollector

Parser = Callable[[bytes, str | None, str | None, ProblemCollector, GlossaryLimits], RawGlossary]

PARSERS: dict[str, Parser] = {
    "csv": parse_csv.parse_csv,
    "tsv": parse_csv.parse_tsv,
    "xlsx": parse_xlsx.parse_xlsx,
    "tbx": parse_tbx.parse_tbx,
    "json": parse_json.parse_json,
}
_TEXT_FORMATS = {"csv": parse_csv.parse_csv, "tsv": parse_csv.parse_tsv}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",  # our compiled Z.ai layout, so compiled files can be re-imported
    ".xlsx": "xlsx",
    ".tbx": "tbx",
    ".xml": "tbx",
    ".json": "json",
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS)
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "tsv",
    "text/plain": "tsv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/x-tbx": "tbx",
    "application/tbx+xml": "tbx",
    "application/xml": "tbx",
    "text/xml": "tbx",
    "application/json": "json",
}


# C0/C1 controls other than tab and line breaks: binary junk, never part of a term.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Parsed:
    document: GlossaryDocument
    # The text encoding a CSV/TSV was read in, e.g. "utf-8" or a detected "cp1252"; None for
    # XLSX, TBX and JSON (binary, or they declare their own).
    encoding: str | None = None


def parse_glossary(
    content: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    source_lang: str | None,
    target_lang: str | None,
    limits: GlossaryLimits,
) -> GlossaryDocument:
    """Parse and validate an upload; raises `GlossaryInvalid` listing every problem found."""
    return parse_upload(
        content,
        filename=filename,
        content_type=content_type,
        source_lang=source_lang,
        target_lang=target_lang,
        limits=limits,
    ).document


def parse_upload(
    content: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    source_lang: str | None,
    target_lang: str | None,
    limits: GlossaryLimits,
    encoding: str | None = None,
) -> Parsed:
    """`parse_glossary`, also saying which encoding a CSV/TSV was read in (`encoding`, if
    given, is used instead of UTF-8 or detection)."""
    problems = ProblemCollector(limits.max_problems)
    if len(content) > limits.max_file_bytes:
        size = f"{len(content)} bytes exceeds the limit of {limits.max_file_bytes}"
        raise problems.fail(Code.FILE_TOO_LARGE, f"file is too large: {size}")
    fmt = detect_format(content, filename=filename, content_type=content_type)
    if fmt is None:
        raise problems.fail(Code.UNSUPPORTED_FORMAT, _unsupported(filename, content_type))
    source = _requested_lang(source_lang, problems, source=True)
    target = _requested_lang(target_lang, problems, source=False)
    parser = PARSERS[fmt]
    if fmt in _TEXT_FORMATS:
        parser = partial(_TEXT_FORMATS[fmt], encoding=encoding)
    raw = parser(content, source, target, problems, limits)
    document = build_document(raw, problems, limits)
    problems.raise_if_any()
    if document is None:  # parsers report why the source is unknown; this is a safety net
        raise problems.fail(Code.MISSING_LANGUAGE, "the source language is unknown")
    return Parsed(document, raw.encoding)


def _requested_lang(code: str | None, problems: ProblemCollector, *, source: bool) -> str | None:
    """The caller's language, normalized; an unknown one is a request error, reported at once."""
    if code is None:
        return None
    lang = resolve_lang(code, source=source)
    if lang is None:
        name = "source_lang" if source else "target_lang"
        raise problems.fail(
            Code.UNKNOWN_LANGUAGE, unknown_lang_message(code, source=source), field=name
        )
    return lang


def detect_format(content: bytes, *, filename: str | None, content_type: str | None) -> str | None:
    """Extension first (browsers often send application/octet-stream), then type, then sniff."""
    if filename:
        suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
        if suffix:
            return _EXTENSIONS.get(suffix)
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    if mime not in ("", "application/octet-stream"):
        return None
    return _sniff(content)


def _sniff(content: bytes) -> str:
    head = content[:64].removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"<"):
        return "tbx"
    if head.startswith((b"{", b"[")):
        return "json"
    return "csv"


def _unsupported(filename: str | None, content_type: str | None) -> str:
    accepted = ", ".join(sorted(_EXTENSIONS))
    return f"unsupported format (filename={filename!r}, type={content_type!r}); use {accepted}"


def clean_text(value: str) -> str:
    """NFC, "\n" line breaks, trimmed: the same term from any system or format hashes the same."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text).strip()


def build_document(
    raw: RawGlossary, problems: ProblemCollector, limits: GlossaryLimits
) -> GlossaryDocument | None:
    """Validate raw entries and merge identical duplicates; None if the source is unknown."""
    merged: dict[str, tuple[GlossaryEntry, RawEntry]] = {}
    for item in raw.entries:
        if problems.full:
            break
        entry = _validate_entry(item, raw.source_lang, problems, limits)
        if entry is not None:
            _merge(merged, entry, item, problems)
    if len(merged) > limits.max_entries and Code.TOO_MANY_ENTRIES not in problems.codes:
        problems.add(Code.TOO_MANY_ENTRIES, f"more than {limits.max_entries} entries")
    if not merged and not problems.problems:
        problems.add(Code.EMPTY_GLOSSARY, "the glossary has no entries")
    if raw.source_lang is None:
        return None
    return GlossaryDocument(raw.source_lang, tuple(e for e, _ in merged.values()))


def _validate_entry(
    item: RawEntry, source_lang: str | None, problems: ProblemCollector, limits: GlossaryLimits
) -> GlossaryEntry | None:
    def report(code: Code, message: str, name: str) -> None:
        problems.add(code, message, row=item.row, column=item.columns.get(name), field=name)

    term = clean_text(item.term)
    translations = {lang: clean_text(t) for lang, t in item.translations if clean_text(t)}
    note = clean_text(item.note or "") or None
    ok = True
    if not term:
        report(Code.EMPTY_TERM, "the source term is empty", "term")
        return None
    texts = {"term": term, "note": note or ""}
    texts.update({f"translations.{lang}": text for lang, text in translations.items()})
    for name, text in texts.items():
        if _CONTROL.search(text):
            report(Code.INVALID_TEXT, f"{name} contains a control character", name)
            ok = False
    for lang in translations.keys() & {source_lang}:
        report(Code.LANGUAGE_MISMATCH, f"{lang!r} is the source language", f"translations.{lang}")
        ok = False
    if item.do_not_translate and item.forbidden:
        msg = f"{term!r} cannot be both do_not_translate and forbidden"
        report(Code.CONFLICTING_FLAGS, msg, "forbidden")
        ok = False
    if item.do_not_translate:
        for lang in sorted(lang for lang, text in translations.items() if text != term):
            msg = f"{term!r} is do_not_translate but its {lang} translation differs"
            report(Code.CONFLICTING_FLAGS, msg, f"translations.{lang}")
            ok = False
    elif not translations and not item.forbidden:
        report(Code.MISSING_TRANSLATION, f"{term!r} has no translation", "term")
        ok = False
    size = sum(len(s.encode()) for s in [term, note or "", *translations.values()])
    if size > limits.max_entry_bytes:
        msg = f"entry {term!r} is {size} bytes; the limit is {limits.max_entry_bytes}"
        report(Code.ENTRY_TOO_LARGE, msg, "term")
        ok = False
    if not ok:
        return None
    flags = (item.case_sensitive, item.do_not_translate, item.forbidden)
    return GlossaryEntry(term, translations, *flags, note=note)


def _merge(
    merged: dict[str, tuple[GlossaryEntry, RawEntry]],
    entry: GlossaryEntry,
    item: RawEntry,
    problems: ProblemCollector,
) -> None:
    """Identical (or complementary) duplicates merge; a different value for anything clashes."""
    if entry.key not in merged:
        merged[entry.key] = (entry, item)
        return
    first, first_item = merged[entry.key]
    clash = _first_difference(first, entry)
    if clash is None:
        combined = {
            **first.canonical(),
            "term": min(first.term, entry.term),  # "Dashboard" vs "dashboard": order-free pick
            "translations": {**first.translations, **entry.translations},
            "note": first.note or entry.note,
        }
        merged[entry.key] = (GlossaryEntry(**combined), first_item)
        return
    where = f"row {first_item.row}" if first_item.row is not None else "an earlier entry"
    before, now = _value(first, clash), _value(entry, clash)
    msg = f"{entry.term!r} is already defined in {where} with {clash}={before!r}, here {now!r}"
    column = item.columns.get(clash) or item.columns.get("term")
    problems.add(Code.DUPLICATE_TERM, msg, row=item.row, column=column, field=clash)


def _value(entry: GlossaryEntry, name: str) -> object:
    if name.startswith("translations."):
        return entry.translations.get(name.removeprefix("translations."))
    return getattr(entry, name)


def _first_difference(a: GlossaryEntry, b: GlossaryEntry) -> str | None:
    for name in ("case_sensitive", "do_not_translate", "forbidden"):
        if getattr(a, name) != getattr(b, name):
            return name
    if a.note and b.note and a.note != b.note:
        return "note"
    for lang in sorted(a.translations.keys() & b.translations.keys()):
        if a.translations[lang] != b.translations[lang]:
            return f"translations.{lang}"
    return None
