from __future__ import annotations

import pytest

from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.glossary.parse import detect_format

from .conftest import DATA, REPO, parse, parse_file

BASIC = GlossaryDocument(
    "en",
    (
        GlossaryEntry("dashboard", {"de": "Übersicht", "fr": "tableau de bord"}),
        GlossaryEntry("invoice", {"de": "Rechnung", "fr": "facture"}, note="billing document"),
        GlossaryEntry(
            "Acme Cloud", case_sensitive=True, do_not_translate=True, note="product name"
        ),
        GlossaryEntry("AcmeSoft", case_sensitive=True, forbidden=True, note="former company name"),
    ),
)
BASIC_FILES = [
    "basic.csv",
    "bom.csv",
    "reordered-semicolon.csv",
    "basic.tsv",
    "basic.json",
    "basic-v2.tbx",
    "basic-v3.tbx",
    "basic.xlsx",
]


@pytest.mark.parametrize("name", BASIC_FILES)
def test_every_format_parses_to_the_same_document(name: str) -> None:
    assert parse_file(name) == BASIC


def test_same_content_in_any_format_or_order_has_the_same_hash() -> None:
    hashes = {parse_file(name).content_hash() for name in BASIC_FILES}
    assert hashes == {BASIC.content_hash()}


def test_hash_changes_with_content() -> None:
    changed = GlossaryDocument(
        "en", (*BASIC.entries[:3], GlossaryEntry("AcmeSoft", forbidden=True))
    )
    assert changed.content_hash() != BASIC.content_hash()
    assert GlossaryDocument("de", BASIC.entries).content_hash() != BASIC.content_hash()


def test_two_column_csv_takes_the_language_pair_from_the_caller() -> None:
    doc = parse_file("two-column.csv", source_lang="en", target_lang="de")
    assert doc.source_lang == "en"
    assert [(e.term, dict(e.translations)) for e in doc.entries] == [
        ("dashboard", {"de": "Übersicht"}),
        ("invoice", {"de": "Rechnung"}),
        ("sign in, then continue", {"de": "anmelden, dann fortfahren"}),
    ]


def test_caller_languages_are_normalized() -> None:
    doc = parse(
        b"Dashboard,\xe4\xbb\xaa\xe8\xa1\xa8\xe6\x9d\xbf\n", source_lang="EN", target_lang="zh_cn"
    )
    assert doc.target_langs == {"zh-CN"}


def test_header_aliases_source_and_target_use_the_callers_pair() -> None:
    doc = parse(b"source,target,note\ninvoice,Rechnung,x\n", source_lang="en", target_lang="de")
    assert doc.entries == (GlossaryEntry("invoice", {"de": "Rechnung"}, note="x"),)


def test_multilingual_header_normalizes_language_case() -> None:
    doc = parse("EN,De,zh-cn,PT\nsettings,Einstellungen,设置,configurações\n".encode())
    assert doc.languages == {"en", "de", "zh-CN", "pt"}


def test_sparse_multilingual_rows_keep_only_filled_languages() -> None:
    doc = parse(b"en,de,fr\nlogin,,connexion\n")
    assert dict(doc.entries[0].translations) == {"fr": "connexion"}


def test_text_is_trimmed_and_nfc_normalized() -> None:
    decomposed = "U\u0308bersicht"  # "Ü" as U + combining diaeresis (macOS file names, some tools)
    doc = parse(f"en,de\n  dashboard ,{decomposed}\n".encode())
    assert doc.entries[0] == GlossaryEntry("dashboard", {"de": "Übersicht"})


def test_identical_and_complementary_duplicates_are_merged() -> None:
    content = b"en,de,fr\ninvoice,Rechnung,\ninvoice,Rechnung,facture\nInvoice,,facture\n"
    assert parse(content).entries == (
        GlossaryEntry("Invoice", {"de": "Rechnung", "fr": "facture"}),
    )


def test_case_sensitive_terms_differing_in_case_are_distinct() -> None:
    content = b"en,de,case_sensitive\nUS,USA,true\nus,uns,true\n"
    assert [e.term for e in parse(content).entries] == ["US", "us"]


def test_tsv_treats_quotes_as_text() -> None:
    doc = parse(b'en\tde\n"Acme" Pro\t"Acme" Pro DE\n', "terms.tsv")
    assert doc.entries[0].term == '"Acme" Pro'


def test_xlsx_numbers_and_booleans_are_read_as_text(tmp_path: object) -> None:
    from io import BytesIO

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["en", "de", "case_sensitive"])
    sheet.append([404, 404.0, True])
    buffer = BytesIO()
    workbook.save(buffer)
    doc = parse(buffer.getvalue(), "numbers.xlsx")
    assert doc.entries == (GlossaryEntry("404", {"de": "404"}, case_sensitive=True),)


def test_json_source_lang_may_come_from_the_caller() -> None:
    doc = parse(
        b'{"entries": [{"term": "a", "translations": {"de": "b"}}]}', "g.json", source_lang="en"
    )
    assert doc.source_lang == "en"


TBX_EN_DE = b"""<martif xml:lang="en"><text><body><termEntry>
<langSet xml:lang="en"><tig><term>invoice</term></tig></langSet>
<langSet xml:lang="de"><tig><term>Rechnung</term></tig></langSet>
</termEntry></body></text></martif>"""


def test_tbx_source_lang_from_the_caller_overrides_the_root() -> None:
    doc = parse(TBX_EN_DE, "g.tbx", source_lang="de")
    assert doc == GlossaryDocument("de", (GlossaryEntry("Rechnung", {"en": "invoice"}),))


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "expected"),
    [
        ("a.CSV", None, b"", "csv"),
        ("dir/a.tsv", "text/csv", b"", "tsv"),
        ("compiled.txt", None, b"", "tsv"),
        ("terms.tbx", None, b"", "tbx"),
        ("terms.xml", None, b"", "tbx"),
        ("x.json", None, b"", "json"),
        ("x.xlsx", None, b"", "xlsx"),
        (None, "application/json; charset=utf-8", b"", "json"),
        (None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"", "xlsx"),
        (None, "text/tab-separated-values", b"", "tsv"),
        (None, "application/octet-stream", b"PK\x03\x04rest", "xlsx"),
        (None, None, b"\xef\xbb\xbf <?xml", "tbx"),
        (None, None, b'{"entries": []}', "json"),
        (None, None, b"en,de\n", "csv"),
        ("x.pdf", None, b"", None),
        (None, "image/png", b"", None),
    ],
)
def test_detect_format(
    filename: str | None, content_type: str | None, content: bytes, expected: str | None
) -> None:
    assert detect_format(content, filename=filename, content_type=content_type) == expected


@pytest.mark.parametrize("path", sorted((REPO / "glossaries").glob("*/*")), ids=lambda p: p.name)
def test_sample_glossaries_are_valid(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    doc = parse(path.read_bytes(), path.name)
    assert 10 <= len(doc.entries) <= 30


def test_acme_demo_terms_are_present() -> None:
    doc = parse((REPO / "glossaries/acme/product-terms.csv").read_bytes(), "product-terms.csv")
    terms = {e.term: e for e in doc.entries}
    assert terms["dashboard"].translations["de"] == "Übersicht"
    assert terms["dashboard"].translations["fr"] == "tableau de bord"
    assert terms["invoice"].translations["de"] == "Rechnung"


def test_data_dir_exists() -> None:
    assert (DATA / "basic.csv").is_file()


def test_line_breaks_are_normalized() -> None:
    doc = parse(b'en,de\n"two\r\nlines",x\n')
    assert doc.entries[0].term == "two\nlines"
