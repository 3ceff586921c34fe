"""Comparing glossary versions and searching entries (pure)."""

from __future__ import annotations

from service.glossary.diff import diff, search
from service.glossary.model import GlossaryDocument, GlossaryEntry


def doc(*entries: GlossaryEntry) -> GlossaryDocument:
    return GlossaryDocument(source_lang="en", entries=entries)


INVOICE = GlossaryEntry("invoice", {"de": "Rechnung", "fr": "facture"})
DASHBOARD = GlossaryEntry("dashboard", {"de": "Übersicht"}, note="landing page")
ACME = GlossaryEntry("Acme Cloud", do_not_translate=True, case_sensitive=True)


def test_added_removed_and_changed_by_key() -> None:
    old = doc(INVOICE, DASHBOARD)
    new = doc(
        GlossaryEntry("invoice", {"de": "Faktura", "fr": "facture", "ja": "請求書"}),
        ACME,
    )
    changes = diff(old, new)
    assert [e.term for e in changes.added] == ["Acme Cloud"]
    assert [e.term for e in changes.removed] == ["dashboard"]
    (change,) = changes.changed
    assert change.fields == ("translations",) and change.languages == ("de", "ja")


def test_flags_notes_and_the_case_of_a_case_insensitive_term_are_changes() -> None:
    renamed = GlossaryEntry("Dashboard", {"de": "Übersicht"}, note=None, forbidden=True)
    (change,) = diff(doc(DASHBOARD), doc(renamed)).changed
    assert change.fields == ("term", "forbidden", "note") and change.languages == ()


def test_the_same_content_has_no_changes() -> None:
    assert diff(doc(INVOICE, ACME), doc(ACME, INVOICE)).empty


def test_search_folds_case_beyond_ascii_in_terms_translations_and_notes() -> None:
    entries = doc(INVOICE, DASHBOARD, ACME).entries
    assert [e.term for e in search(entries, "ÜBERSICHT")] == ["dashboard"]
    assert [e.term for e in search(entries, "LANDING")] == ["dashboard"]
    assert [e.term for e in search(entries, "cloud")] == ["Acme Cloud"]
    assert len(search(entries, "  ")) == 3
    assert search(entries, "nothing like it") == []
