from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from service.glossary.compile import (
    COMPILERS,
    CompiledGlossary,
    GlossaryCompiler,
    TsvTextCompiler,
    UnsupportedLanguagePair,
    get_compiler,
    register_compiler,
    single_line,
)
from service.glossary.export import export_csv, export_tbx
from service.glossary.model import GlossaryDocument, GlossaryEntry

from .conftest import REPO, parse
from .test_formats import BASIC

SMALL = GlossaryDocument(
    "en",
    (
        GlossaryEntry("invoice", {"de": "Rechnung", "fr": "facture"}),
        GlossaryEntry("dashboard", {"de": "Übersicht", "fr": "tableau de bord"}),
        GlossaryEntry("Acme Cloud", do_not_translate=True, case_sensitive=True),
        GlossaryEntry("AcmeSoft", forbidden=True),
        GlossaryEntry("cheap", {"de": "billig"}, forbidden=True),
        GlossaryEntry("sign\tin", {"de": "an-\n  melden"}),
        GlossaryEntry("log out", {"fr": "se déconnecter"}),
    ),
)
SAMPLES = sorted((REPO / "glossaries").glob("*/*"))


def test_tsv_compiler_exact_bytes() -> None:
    compiled = get_compiler().compile(SMALL, "en", "de")
    assert (
        compiled.content
        == (
            "en\tde\n"
            "Acme Cloud\tAcme Cloud\n"
            "dashboard\tÜbersicht\n"
            "invoice\tRechnung\n"
            "sign in\tan- melden\n"
        ).encode()
    )
    assert compiled.entry_count == 4
    assert compiled.filename == f"glossary_en_de_{compiled.content_hash[:12]}.txt"


def test_compiled_hash_is_sha256_of_content() -> None:
    import hashlib

    compiled = get_compiler("tsv-txt").compile(SMALL, "en", "fr")
    assert compiled.content_hash == hashlib.sha256(compiled.content).hexdigest()


def test_compiler_skips_entries_without_the_target() -> None:
    compiled = get_compiler().compile(SMALL, "en", "ja")
    assert compiled.content == b"en\tja\nAcme Cloud\tAcme Cloud\n"


def test_compiler_rejects_a_different_source_language() -> None:
    with pytest.raises(UnsupportedLanguagePair):
        get_compiler().compile(SMALL, "de", "en")


def test_compiled_file_parses_back_as_the_pair() -> None:
    compiled = get_compiler().compile(SMALL, "en", "de")
    doc = parse(compiled.content, compiled.filename)
    assert doc.source_lang == "en"
    assert {e.term: e.translations["de"] for e in doc.entries}["dashboard"] == "Übersicht"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\tb", "a b"), ("a \r\n b", "a b"), ("a\u2028b", "a b"), (" a  b ", "a  b"), ("x", "x")],
)
def test_single_line(text: str, expected: str) -> None:
    assert single_line(text) == expected


def test_xlsx_compiler_is_deterministic_and_readable() -> None:
    first = get_compiler("xlsx").compile(SMALL, "en", "de")
    second = get_compiler("xlsx").compile(SMALL, "en", "de")
    assert first.content == second.content
    assert first.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(first.content), read_only=True).worksheets[0]
    rows = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ("en", "de")
    assert ("dashboard", "Übersicht") in rows
    assert len(rows) == first.entry_count + 1


def test_unknown_compiler() -> None:
    with pytest.raises(ValueError, match="unknown glossary compiler"):
        get_compiler("docx")


def test_register_compiler() -> None:
    class Upper:
        name = "upper-test"
        file_extension = ".txt"

        def compile(
            self, doc: GlossaryDocument, source_lang: str, target_lang: str
        ) -> CompiledGlossary:
            inner = TsvTextCompiler().compile(doc, source_lang, target_lang)
            return CompiledGlossary(inner.filename, inner.content.upper(), "", inner.entry_count)

    compiler: GlossaryCompiler = Upper()
    register_compiler(compiler)
    try:
        assert get_compiler("upper-test").compile(SMALL, "en", "de").content.startswith(b"EN\tDE\n")
    finally:
        del COMPILERS["upper-test"]


@pytest.mark.parametrize("export", [export_csv, export_tbx], ids=["csv", "tbx"])
@pytest.mark.parametrize("doc", [BASIC, SMALL], ids=["basic", "small"])
def test_export_round_trips_to_the_same_hash(export: object, doc: GlossaryDocument) -> None:
    assert callable(export)
    content = export(doc)
    filename = "out.csv" if export is export_csv else "out.tbx"
    parsed = parse(content, filename)
    assert parsed == doc
    assert parsed.content_hash() == doc.content_hash()


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_glossaries_round_trip_through_both_exports(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    doc = parse(path.read_bytes(), path.name)
    for content, name in ((export_csv(doc), "x.csv"), (export_tbx(doc), "x.tbx")):
        assert parse(content, name).content_hash() == doc.content_hash()


def test_export_csv_layout() -> None:
    lines = export_csv(BASIC).decode().splitlines()
    assert lines[0] == "en,de,fr,case_sensitive,do_not_translate,forbidden,note"
    assert lines[1] == "Acme Cloud,,,true,true,false,product name"


def test_export_tbx_is_tbx_basic() -> None:
    content = export_tbx(BASIC)
    assert content.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<martif type="TBX-Basic" xml:lang="en">'
    )
    assert b'<descrip type="doNotTranslate">true</descrip>' in content


def test_demo_sentence_terms_compile_for_german() -> None:
    doc = parse((REPO / "glossaries/acme/product-terms.csv").read_bytes(), "product-terms.csv")
    lines = get_compiler().compile(doc, "en", "de").content.decode().splitlines()
    assert "dashboard\tÜbersicht" in lines
    assert "invoice\tRechnung" in lines


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+1", "-ish", "@SUM(A1)", "'=quoted already", "''+two"]
)
def test_export_csv_escapes_formulas_and_reads_them_back(text: str) -> None:
    doc = GlossaryDocument(
        "en",
        (GlossaryEntry(text, {"de": text, "fr": "plain"}, note=text),),
    )
    exported = export_csv(doc).decode()
    cells = list(csv.reader(io.StringIO(exported)))[1]
    assert cells == [f"'{text}", f"'{text}", "plain", "false", "false", "false", f"'{text}"]
    assert parse(export_csv(doc), "g.csv") == doc
