"""Parse an uploaded glossary file into (source term, target term) pairs.

Z.ai documents no glossary layout (zai-api.md §11.1); our convention is two columns per row:
UTF-8 .txt/.csv/.tsv separated by a tab (if the first row has one) or a comma, or the first
sheet of an .xlsx. An optional header row whose two cells are language codes is skipped.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence

from openpyxl import load_workbook

from service.languages import SOURCE_LANGS, TARGET_LANGS

_LANG_CODES = frozenset(code.lower() for code in SOURCE_LANGS | TARGET_LANGS)
_TEXT_EXTENSIONS = frozenset(["txt", "csv", "tsv"])


class GlossaryFileError(ValueError):
    """The file is not a two-column term list."""


def parse_glossary(filename: str, data: bytes) -> tuple[tuple[str, str], ...]:
    extension = file_extension(filename)
    if extension in _TEXT_EXTENSIONS:
        rows = _text_rows(data)
    elif extension == "xlsx":
        rows = _xlsx_rows(data)
    else:
        raise GlossaryFileError(f"unsupported glossary format: {filename!r}")
    return _term_pairs(rows)


def file_extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def looks_like_lang_code(cell: str) -> bool:
    """`de`, `zh-CN`, `en_US`, `pt-BR`: a known code, optionally with a region suffix."""
    code = cell.strip().lower().replace("_", "-")
    return code in _LANG_CODES or code.split("-", 1)[0] in _LANG_CODES


def _text_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GlossaryFileError("glossary text is not UTF-8") from exc
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    return list(csv.reader(lines, delimiter="\t" if "\t" in first else ","))


def _xlsx_rows(data: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise GlossaryFileError("not a readable .xlsx workbook") from exc
    try:
        sheet = workbook.worksheets[0]
        return [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def _term_pairs(rows: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    cleaned = [[cell.strip() for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if cleaned and _is_header(cleaned[0]):
        cleaned = cleaned[1:]
    pairs = []
    for number, row in enumerate(cleaned, start=1):
        if len(row) < 2 or not row[0] or not row[1]:
            raise GlossaryFileError(f"row {number} does not hold two non-empty terms: {row!r}")
        pairs.append((row[0], row[1]))
    if not pairs:
        raise GlossaryFileError("glossary holds no term pairs")
    return tuple(pairs)


def _is_header(row: Sequence[str]) -> bool:
    return len(row) >= 2 and looks_like_lang_code(row[0]) and looks_like_lang_code(row[1])
