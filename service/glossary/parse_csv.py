"""CSV/TSV parsing and the column rules shared with XLSX (`parse_table`).

Layouts:
  * headerless, two columns `term,translation`: the caller supplies the language pair;
  * a header row whose first cell is the source language code (or `source`/`term`), then target
    language codes (or `target`/`translation`) and optional `case_sensitive`, `do_not_translate`,
    `forbidden`, `note` columns in any order.
Rows are numbered from 1 like a spreadsheet (the header is row 1); columns are letters (A, B, …).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from service.glossary.encoding import Decoded, UnknownEncoding, decode_text
from service.glossary.export import unescape_formula
from service.glossary.limits import GlossaryLimits
from service.glossary.model import RawEntry, RawGlossary, resolve_lang, unknown_lang_message
from service.glossary.problems import Code, ProblemCollector, Where

FLAGS = ("case_sensitive", "do_not_translate", "forbidden")
_NAMED_COLUMNS = {*FLAGS, "note"}
_SOURCE_ALIASES = {"source", "term"}
_TARGET_ALIASES = {"target", "translation"}
_TRUE = {"true", "yes", "y", "1", "x"}
_FALSE = {"false", "no", "n", "0", ""}
_CODE_SHAPED = re.compile(r"^[a-z]{2,3}([-_][a-z0-9]{2,8})*$|^pinyin$|^ipa$", re.IGNORECASE)

Row = tuple[int, Sequence[object]]


def parse_csv(
    content: bytes,
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
    *,
    encoding: str | None = None,
) -> RawGlossary:
    decoded = decode(content, problems, encoding)
    text = decoded.text
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in comma-decimal locales export ";"-separated "CSV".
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    raw = parse_table(_records(reader, problems), source_lang, target_lang, problems, limits)
    return replace(raw, encoding=decoded.encoding)


def parse_tsv(
    content: bytes,
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
    *,
    encoding: str | None = None,
) -> RawGlossary:
    decoded = decode(content, problems, encoding)
    # TSV has no quoting (IANA text/tab-separated-values): a quote is just a character.
    reader = csv.reader(
        io.StringIO(decoded.text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    raw = parse_table(_records(reader, problems), source_lang, target_lang, problems, limits)
    return replace(raw, encoding=decoded.encoding)


def decode(content: bytes, problems: ProblemCollector, encoding: str | None) -> Decoded:
    """The file as text: in the caller's `encoding`, else UTF-8, else the detected encoding."""
    try:
        return decode_text(content, encoding)
    except UnknownEncoding as exc:
        if encoding is not None:
            raise problems.fail(Code.BAD_ENCODING, str(exc), field="encoding") from None
        bad = _first_bad_utf8(content)
        line = content.count(b"\n", 0, bad) + 1
        msg = (
            f"not UTF-8 (invalid byte 0x{content[bad]:02x} at offset {bad}) and {exc}; "
            "save the file as UTF-8"
        )
        raise problems.fail(Code.BAD_ENCODING, msg, row=line) from None


def _first_bad_utf8(content: bytes) -> int:
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def decode_utf8(content: bytes, problems: ProblemCollector) -> str:
    """Strict UTF-8 (a leading BOM is allowed); raises with the line of the first bad byte."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        msg = f"not UTF-8: invalid byte 0x{content[exc.start]:02x} at offset {exc.start}"
        raise problems.fail(Code.BAD_ENCODING, f"{msg}; save the file as UTF-8", row=line) from exc


def _records(reader: Iterable[list[str]], problems: ProblemCollector) -> Iterator[Row]:
    """The rows, each cell escaped against formula injection read back as its text (our
    exports escape them: service.glossary.export.escape_formula)."""
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            yield row, [unescape_formula(cell) for cell in cells]
    except csv.Error as exc:
        problems.add(Code.MALFORMED_CSV, f"malformed CSV after row {row}: {exc}", row=row + 1)


@dataclass
class _Layout:
    source_lang: str | None
    is_header: bool
    fields: dict[int, str] = field(default_factory=dict)  # column index → field name

    @property
    def labels(self) -> dict[str, str]:
        return {name: column_letter(i) for i, name in self.fields.items()}


def parse_table(
    rows: Iterable[Row],
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
) -> RawGlossary:
    layout: _Layout | None = None
    entries: list[RawEntry] = []
    for row, cells in rows:
        if problems.full:
            break
        if row > limits.max_rows:
            msg = f"more than {limits.max_rows} rows (blank rows included)"
            problems.add(Code.TOO_MANY_ENTRIES, msg, row=row)
            break
        values = [cell_text(c) for c in cells]
        while values and not values[-1].strip():  # XLSX rows come padded to the widest row
            values.pop()
        if not values:
            continue
        if len(entries) >= limits.max_entries:
            problems.add(Code.TOO_MANY_ENTRIES, f"more than {limits.max_entries} entries", row=row)
            break
        if len(values) > limits.max_columns:
            msg = f"{len(values)} columns; the limit is {limits.max_columns}"
            problems.add(Code.TOO_MANY_COLUMNS, msg, row=row)
            break
        if layout is None:
            layout = _layout(row, values, source_lang, target_lang, problems)
            if layout is None:
                break
            if layout.is_header:
                continue
        entries.append(_entry(row, values, layout, problems))
    return RawGlossary(layout.source_lang if layout else source_lang, entries)


def _layout(
    row: int,
    values: list[str],
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
) -> _Layout | None:
    if _looks_like_header(values):
        return _header_layout(row, values, source_lang, target_lang, problems)
    if source_lang is None or target_lang is None:
        msg = (
            "no header row (first cell must be a source language code such as 'en') "
            "and no source/target language was given"
        )
        problems.add(Code.MISSING_LANGUAGE, msg, row=row)
        return None
    return _Layout(source_lang, False, {0: "term", 1: f"translations.{target_lang}"})


def _looks_like_header(values: list[str]) -> bool:
    """First cell a source language (or alias), and the rest look like column names.

    "IT,Informatik" is data, "en,de,comment" a header with one bad column.
    """
    first, *rest = (_header_name(v) for v in values)
    if first not in _SOURCE_ALIASES and resolve_lang(first, source=True) is None:
        return False
    known = _NAMED_COLUMNS | _TARGET_ALIASES
    recognized = any(v in known or resolve_lang(v, source=False) for v in rest)
    return recognized or all(not v or _CODE_SHAPED.match(v) for v in rest)


def _header_name(value: str) -> str:
    return value.strip().casefold().replace("-", "_").replace(" ", "_")


def _header_layout(
    row: int,
    values: list[str],
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
) -> _Layout:
    layout = _Layout(_header_source(row, values[0], source_lang, problems), True, {0: "term"})
    for i, value in enumerate(values[1:], start=1):
        name = _column_field(row, i, value, target_lang, problems)
        if name is None:
            continue
        if name in layout.fields.values():
            msg = f"column {value.strip()!r} appears twice"
            problems.add(Code.DUPLICATE_COLUMN, msg, row=row, column=column_letter(i), field=name)
            continue
        layout.fields[i] = name
    return layout


def _header_source(
    row: int, value: str, source_lang: str | None, problems: ProblemCollector
) -> str | None:
    if _header_name(value) in _SOURCE_ALIASES:
        if source_lang is None:
            msg = f"header {value.strip()!r} needs a source language from the caller"
            problems.add(Code.MISSING_LANGUAGE, msg, row=row, column="A")
        return source_lang
    declared = resolve_lang(value, source=True)
    if source_lang is not None and declared != source_lang:
        msg = f"the header declares source {declared!r} but {source_lang!r} was requested"
        problems.add(Code.LANGUAGE_MISMATCH, msg, row=row, column="A")
    return declared


def _column_field(
    row: int, i: int, value: str, target_lang: str | None, problems: ProblemCollector
) -> str | None:
    name = _header_name(value)
    where: Where = {"row": row, "column": column_letter(i)}
    if not name or name in _NAMED_COLUMNS:
        return name or None
    if name in _TARGET_ALIASES:
        if target_lang is None:
            problems.add(Code.MISSING_LANGUAGE, f"{value!r} needs a target language", **where)
            return None
        return f"translations.{target_lang}"
    lang = resolve_lang(value, source=False)
    if lang is not None:
        return f"translations.{lang}"
    if _CODE_SHAPED.match(name):
        problems.add(Code.UNKNOWN_LANGUAGE, unknown_lang_message(value, source=False), **where)
    else:
        problems.add(Code.UNKNOWN_COLUMN, f"unknown column {value.strip()!r}", **where)
    return None


def _entry(row: int, values: list[str], layout: _Layout, problems: ProblemCollector) -> RawEntry:
    fields: dict[str, str] = {}
    for i, value in enumerate(values):
        name = layout.fields.get(i)
        if name is not None:
            fields[name] = value
        elif value.strip():
            msg = f"unexpected value {value.strip()[:40]!r} in a column without a header"
            problems.add(Code.EXTRA_CELL, msg, row=row, column=column_letter(i))
    flags = {f: _flag(row, f, fields.get(f, ""), layout, problems) for f in FLAGS}
    translations = tuple(
        (name.removeprefix("translations."), text)
        for name, text in fields.items()
        if name.startswith("translations.")
    )
    return RawEntry(
        row,
        fields.get("term", ""),
        translations,
        note=fields.get("note"),
        columns=layout.labels,
        **flags,
    )


def _flag(row: int, name: str, value: str, layout: _Layout, problems: ProblemCollector) -> bool:
    text = value.strip().casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    msg = f"{name} must be true/false, yes/no, 1/0 or empty, not {value.strip()[:40]!r}"
    problems.add(Code.INVALID_FLAG, msg, row=row, column=layout.labels.get(name), field=name)
    return False


def cell_text(value: object) -> str:
    """A cell as text: XLSX gives numbers and booleans, a term like "404" must stay "404"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column_letter(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA" (spreadsheet column names)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters
