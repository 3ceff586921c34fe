from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from service.sim.glossary_file import GlossaryFileError, looks_like_lang_code, parse_glossary


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("ignored").append(["x", "y"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_tab_separated_text() -> None:
    data = b"valve\tVentil\nsafety valve\tSicherheitsventil\n"
    assert parse_glossary("terms.txt", data) == (
        ("valve", "Ventil"),
        ("safety valve", "Sicherheitsventil"),
    )


def test_comma_separated_with_quotes_bom_and_blank_lines() -> None:
    data = '\ufeff"pump, main",Hauptpumpe\n\n  seal , Dichtung \n'.encode()
    assert parse_glossary("terms.csv", data) == (("pump, main", "Hauptpumpe"), ("seal", "Dichtung"))


def test_tsv_with_commas_inside_terms() -> None:
    assert parse_glossary("g.tsv", b"a, b\tc, d\n") == (("a, b", "c, d"),)


@pytest.mark.parametrize("header", ["en,de", "EN,DE", "en-US,de-DE", "zh_CN\ten"])
def test_a_language_code_header_is_skipped(header: str) -> None:
    separator = "\t" if "\t" in header else ","
    data = f"{header}\nvalve{separator}Ventil\n".encode()
    assert parse_glossary("g.csv", data) == (("valve", "Ventil"),)


def test_other_headers_are_terms() -> None:
    assert parse_glossary("g.csv", b"source,target\n") == (("source", "target"),)


def test_a_header_is_only_skipped_in_the_first_row() -> None:
    assert parse_glossary("g.csv", b"valve,Ventil\nen,de\n") == (("valve", "Ventil"), ("en", "de"))


def test_extra_columns_are_ignored() -> None:
    assert parse_glossary("g.csv", b"valve,Ventil,note\n") == (("valve", "Ventil"),)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("g.csv", b"only-one-column\n", "row 1"),
        ("g.csv", b"a,b\n,missing\n", "row 2"),
        ("g.csv", b"\n\n", "no term pairs"),
        ("g.csv", b"en,de\n", "no term pairs"),
        ("g.txt", "Ventil\tvalve".encode("utf-16"), "not UTF-8"),
        ("g.pdf", b"%PDF-1.7", "unsupported"),
        ("noextension", b"a,b", "unsupported"),
        ("g.xlsx", b"not a zip", "xlsx"),
    ],
)
def test_invalid_files(name: str, data: bytes, message: str) -> None:
    with pytest.raises(GlossaryFileError, match=message):
        parse_glossary(name, data)


def test_xlsx_first_sheet_two_columns() -> None:
    data = xlsx([["en", "de"], ["valve", "Ventil"], [None, None], ["pump", 42]])
    assert parse_glossary("Terms.XLSX", data) == (("valve", "Ventil"), ("pump", "42"))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("de", True),
        ("pt-BR", True),
        ("Pinyin", True),
        ("cat", False),
        ("valve", False),
        ("", False),
    ],
)
def test_looks_like_lang_code(cell: str, expected: bool) -> None:
    assert looks_like_lang_code(cell) is expected
