"""CSV/TSV in another encoding than UTF-8: detected, read, and the encoding named."""

from __future__ import annotations

import pytest

from service.glossary.encoding import UnknownEncoding, codec_name, decode_text
from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_upload

from .conftest import DATA, REPO, only, parse, problems

WESTERN = """en,de,fr,case_sensitive,note
invoice,Rechnung,facture,false,
résumé,Lebenslauf,CV,false,
café,Café,café,false,
naïve,naiv,naïf,false,
price in €,Preis in €,prix en €,false,a currency sign only Windows-1252 has at 0x80
"""


def upload(content: bytes, filename: str = "g.csv", encoding: str | None = None) -> object:
    return parse_upload(
        content,
        filename=filename,
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
        encoding=encoding,
    )


def test_utf8_is_read_as_utf8_and_says_so() -> None:
    got = upload(WESTERN.encode())
    assert got.encoding == "utf-8"  # type: ignore[attr-defined]


def test_a_windows_1252_csv_is_detected_and_reads_as_its_utf8_twin() -> None:
    got = upload(WESTERN.encode("cp1252"))
    assert got.encoding == "cp1252"  # type: ignore[attr-defined]
    assert got.document == parse(WESTERN.encode())  # type: ignore[attr-defined]


def test_the_old_latin1_sample_is_read_not_rejected() -> None:
    got = upload((DATA / "latin1.csv").read_bytes())
    assert got.encoding == "cp1252"  # type: ignore[attr-defined]
    assert [e.term for e in got.document.entries] == ["naïve", "résumé"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "encoding", "expected"),
    [
        ("glossaries/globex/support-ja.tsv", "shift_jis", "cp932"),
        ("glossaries/globex/support-ja.tsv", "utf-16", "utf-16"),
        ("glossaries/acme/product-terms.csv", "utf-16", "utf-16"),
    ],
)
def test_sample_glossaries_saved_in_other_encodings_read_the_same(
    path: str, encoding: str, expected: str
) -> None:
    original = (REPO / path).read_bytes()
    got = upload(original.decode().encode(encoding), filename=path)
    assert got.encoding == expected  # type: ignore[attr-defined]
    assert got.document == parse(original, path)  # type: ignore[attr-defined]


def test_an_explicit_encoding_overrides_detection() -> None:
    cyrillic = "en,ru\ninvoice,счёт\nprice,цена\n".encode("cp1251")
    got = upload(cyrillic, encoding="cp1251")
    assert got.encoding == "cp1251"  # type: ignore[attr-defined]
    assert got.document.entries[0].translations == {"ru": "счёт"}  # type: ignore[attr-defined]


def test_an_explicit_encoding_that_does_not_fit_is_a_problem() -> None:
    found = problems("en,de\nä,b\n".encode("utf-16"), "g.csv", encoding="utf-8")
    assert only(found, "bad_encoding").field == "encoding"


def test_decode_text_refuses_binary_and_names_codecs() -> None:
    with pytest.raises(UnknownEncoding):
        decode_text(bytes(range(256)) * 8)
    assert codec_name("latin-1") == "iso8859-1"
    assert codec_name("no-such-codec") is None


def test_a_utf8_bom_is_utf8_not_detected() -> None:
    got = decode_text(b"\xef\xbb\xbfen,de\n")
    assert (got.text, got.encoding, got.detected) == ("en,de\n", "utf-8", False)
