"""XLSX parsing: first sheet, same column rules as CSV (see parse_csv).

An XLSX is a zip, so a few KB can inflate to gigabytes. The archive's declared sizes are checked
before openpyxl opens it; zipfile never inflates a member past its declared size (it raises
instead), so the declared sizes bound the work. openpyxl parses XML through defusedxml when it
is installed, which it is for this service.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import openpyxl
from defusedxml import DefusedXmlException

from service.glossary.limits import GlossaryLimits
from service.glossary.model import RawGlossary
from service.glossary.parse_csv import Row, parse_table
from service.glossary.problems import Code, ProblemCollector

_SMALL_MEMBER = 1024 * 1024  # tiny members compress wildly (empty styles) and are harmless


def parse_xlsx(
    content: bytes,
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
) -> RawGlossary:
    check_archive(content, problems, limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files (KeyError, ...)
        if _caused_by_unsafe_xml(exc):
            raise problems.fail(Code.UNSAFE_XML, "XLSX contains XML entity declarations") from exc
        raise problems.fail(Code.MALFORMED_XLSX, f"not a readable XLSX file: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        _check_dimensions(sheet.max_row, sheet.max_column, problems, limits)
        rows = _rows(sheet.iter_rows(values_only=True, max_col=limits.max_columns + 1), problems)
        return parse_table(rows, source_lang, target_lang, problems, limits)
    finally:
        workbook.close()


def check_archive(content: bytes, problems: ProblemCollector, limits: GlossaryLimits) -> None:
    """Reject zip bombs from the central directory alone, before anything is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise problems.fail(Code.MALFORMED_XLSX, f"not a valid XLSX (zip) file: {exc}") from exc
    if len(members) > limits.max_archive_members:
        msg = f"archive has {len(members)} members; the limit is {limits.max_archive_members}"
        raise problems.fail(Code.UNSAFE_ARCHIVE, msg)
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        msg = f"archive inflates to {total} bytes; the limit is {limits.max_uncompressed_bytes}"
        raise problems.fail(Code.UNSAFE_ARCHIVE, msg)
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _SMALL_MEMBER and ratio > limits.max_compression_ratio:
            msg = f"{member.filename} has a suspicious compression ratio of {ratio:.0f}:1"
            raise problems.fail(Code.UNSAFE_ARCHIVE, msg)


def _check_dimensions(
    max_row: int | None, max_column: int | None, problems: ProblemCollector, limits: GlossaryLimits
) -> None:
    """The sheet's declared dimension is cheap to read; the row loop re-checks (it may lie)."""
    if max_row is not None and max_row > limits.max_rows:
        msg = f"the sheet declares {max_row} rows; the limit is {limits.max_rows}"
        raise problems.fail(Code.TOO_MANY_ENTRIES, msg)
    if max_column is not None and max_column > limits.max_columns:
        msg = f"the sheet declares {max_column} columns; the limit is {limits.max_columns}"
        raise problems.fail(Code.TOO_MANY_COLUMNS, msg)


def _rows(values: Iterator[tuple[object, ...]], problems: ProblemCollector) -> Iterator[Row]:
    try:
        yield from enumerate(values, start=1)
    except Exception as exc:  # damaged sheet XML surfaces mid-iteration
        if _caused_by_unsafe_xml(exc):
            problems.add(Code.UNSAFE_XML, "the first sheet contains XML entity declarations")
        else:
            problems.add(Code.MALFORMED_XLSX, f"the first sheet cannot be read: {exc}")


def _caused_by_unsafe_xml(exc: BaseException | None) -> bool:
    """openpyxl wraps parser errors in its own; look down the chain for defusedxml's."""
    while exc is not None:
        if isinstance(exc, DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
