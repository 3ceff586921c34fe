from __future__ import annotations

import pytest

from service.glossary.model import GlossaryDocument, GlossaryEntry, normalize_lang, resolve_lang


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" de ", "de"),
        ("zh-cn", "zh-CN"),
        ("ZH_TW", "zh-TW"),
        ("en-gb", "en-GB"),
        ("pinyin", "Pinyin"),
        ("auto", None),
        ("de-DE", None),
        ("xx", None),
        ("", None),
    ],
)
def test_normalize_lang(code: str, expected: str | None) -> None:
    assert normalize_lang(code) == expected


def test_en_us_is_a_target_but_not_a_source() -> None:
    assert resolve_lang("en-us", source=False) == "en-US"
    assert resolve_lang("en-us", source=True) is None


def test_entries_are_immutable() -> None:
    entry = GlossaryEntry("a", {"de": "b"})
    with pytest.raises(TypeError):
        entry.translations["de"] = "c"  # type: ignore[index]
    with pytest.raises(AttributeError):
        entry.term = "z"  # type: ignore[misc]


def test_entries_copy_their_input_mapping() -> None:
    source = {"de": "b"}
    entry = GlossaryEntry("a", source)
    source["de"] = "changed"
    assert entry.translations["de"] == "b"


def test_document_order_does_not_matter() -> None:
    a, b = GlossaryEntry("a", {"de": "1", "fr": "2"}), GlossaryEntry("b", {"fr": "3", "de": "4"})
    first, second = GlossaryDocument("en", (a, b)), GlossaryDocument("en", (b, a))
    assert first == second
    assert first.content_hash() == second.content_hash()


def test_hash_is_pinned() -> None:
    # Changing the canonical form invalidates stored hashes: bump HASH_VERSION if this fails.
    doc = GlossaryDocument("en", (GlossaryEntry("invoice", {"de": "Rechnung"}),))
    assert doc.canonical_bytes() == (
        b'{"entries":[{"case_sensitive":false,"do_not_translate":false,"forbidden":false,'
        b'"note":null,"term":"invoice","translations":{"de":"Rechnung"}}],'
        b'"source_lang":"en","version":1}'
    )


def test_languages() -> None:
    doc = GlossaryDocument("en", (GlossaryEntry("a", {"de": "b"}), GlossaryEntry("c", {"ja": "d"})))
    assert doc.target_langs == {"de", "ja"}
    assert doc.languages == {"en", "de", "ja"}


def test_target_and_forbidden_text() -> None:
    dnt = GlossaryEntry("Acme", do_not_translate=True)
    forbidden = GlossaryEntry("cheap", {"de": "billig"}, forbidden=True)
    assert dnt.target_text("fr") == "Acme"
    assert forbidden.forbidden_text("de") == "billig"
    assert forbidden.forbidden_text("fr") == "cheap"
    assert dnt.forbidden_text("de") is None


def test_key_folds_case_unless_case_sensitive() -> None:
    assert GlossaryEntry("API", {"de": "x"}).key == "api"
    assert GlossaryEntry("API", {"de": "x"}, case_sensitive=True).key == "API"
