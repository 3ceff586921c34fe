"""Files crafted to hurt the parser: they must be rejected with a clear problem, not processed."""

from __future__ import annotations

import io
import time
import zipfile

from openpyxl import Workbook

from service.glossary.limits import GlossaryLimits

from .conftest import DATA, only, problems


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_external_entity_is_rejected_not_resolved() -> None:
    found = problems(read("xxe.tbx"), "xxe.tbx")
    assert [p.code for p in found] == ["unsafe_xml"]
    assert "root:" not in found[0].message  # /etc/passwd was never read


def test_billion_laughs_is_rejected_quickly() -> None:
    started = time.perf_counter()
    found = problems(read("billion-laughs.tbx"), "billion-laughs.tbx")
    assert [p.code for p in found] == ["unsafe_xml"]
    assert time.perf_counter() - started < 1


def test_external_parameter_entity_is_rejected() -> None:
    assert [p.code for p in problems(read("parameter-entity.tbx"), "p.tbx")] == ["unsafe_xml"]


def test_xml_sniffed_without_a_filename_is_still_defused() -> None:
    assert [p.code for p in problems(read("xxe.tbx"), None)] == ["unsafe_xml"]


def test_binary_junk_in_a_csv_is_bad_encoding_with_the_line() -> None:
    junk = b"en,de\nok,gut\n" + bytes(range(256)) * 4
    problem = only(problems(junk, "g.csv"), "bad_encoding")
    assert problem.row == 4  # byte 0x0a of the junk ended line 3
    assert "0x80" in problem.message and "save the file as UTF-8" in problem.message


def test_non_utf8_json_is_bad_encoding() -> None:
    assert only(
        problems('{"source_lang": "en", "entries": []} é'.encode("latin-1"), "g.json"),
        "bad_encoding",
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bomb_sheet(size: int) -> bytes:
    row = b'<row><c t="inlineStr"><is><t>' + b"A" * 1000 + b"</t></is></c></row>"
    body = row * (size // len(row))
    return b"<worksheet><sheetData>" + body + b"</sheetData></worksheet>"


def test_zip_bomb_xlsx_is_rejected_before_openpyxl_loads_it() -> None:
    # Not even a valid workbook: if openpyxl had run we would see malformed_xlsx instead.
    bomb = _zip({"xl/worksheets/sheet1.xml": _bomb_sheet(8 * 1024 * 1024)})
    assert len(bomb) < 100_000
    found = problems(bomb, "bomb.xlsx")
    assert [p.code for p in found] == ["unsafe_archive"]
    assert "compression ratio" in found[0].message


def test_xlsx_inflating_past_the_total_limit_is_rejected() -> None:
    archive = _zip({f"xl/m{i}.xml": _bomb_sheet(600_000) for i in range(4)})
    limits = GlossaryLimits(max_uncompressed_bytes=2_000_000)
    found = problems(archive, "big.xlsx", limits=limits)
    assert [p.code for p in found] == ["unsafe_archive"]
    assert "inflates to" in found[0].message


def test_xlsx_with_too_many_members_is_rejected() -> None:
    archive = _zip({f"m{i}": b"" for i in range(20)})
    assert only(
        problems(archive, "m.xlsx", limits=GlossaryLimits(max_archive_members=10)), "unsafe_archive"
    )


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _patch_member(archive: bytes, name: str, old: bytes, new: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    assert old in members[name]
    members[name] = members[name].replace(old, new)
    return _zip(members)


def test_xlsx_declaring_too_many_rows_is_rejected_before_reading_rows() -> None:
    original = _workbook([["en", "de"], ["a", "b"]])
    lying = _patch_member(original, "xl/worksheets/sheet1.xml", b'ref="A1:B2"', b'ref="A1:B999999"')
    found = problems(lying, "rows.xlsx")
    assert [p.code for p in found] == ["too_many_entries"]
    assert "declares 999999 rows" in found[0].message


def test_xlsx_declaring_too_many_columns_is_rejected() -> None:
    original = _workbook([["en", "de"], ["a", "b"]])
    wide = _patch_member(original, "xl/worksheets/sheet1.xml", b'ref="A1:B2"', b'ref="A1:ZZZ2"')
    assert [p.code for p in problems(wide, "cols.xlsx")] == ["too_many_columns"]


def test_xlsx_with_entity_declaration_is_unsafe() -> None:
    original = _workbook([["en", "de"], ["a", "b"]])
    evil = _patch_member(
        original,
        "xl/worksheets/sheet1.xml",
        b"<worksheet",
        b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]><worksheet',
    )
    assert [p.code for p in problems(evil, "evil.xlsx")] == ["unsafe_xml"]


def test_not_a_zip_is_malformed_xlsx() -> None:
    assert [p.code for p in problems(b"en,de\na,b\n", "fake.xlsx")] == ["malformed_xlsx"]


def test_zip_without_workbook_is_malformed_xlsx() -> None:
    assert [p.code for p in problems(_zip({"hello.txt": b"hi"}), "empty.xlsx")] == [
        "malformed_xlsx"
    ]


def test_xlsx_cell_limits_apply_like_csv() -> None:
    content = _workbook([["en", "de"], ["a", "x" * 5000]])
    assert only(problems(content, "big-cell.xlsx"), "entry_too_large").row == 2
