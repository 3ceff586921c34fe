from __future__ import annotations

import pytest

from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.l10n.compliance import (
    ComplianceReport,
    Decision,
    Policy,
    TermHit,
    check,
    decide,
    expected_terms,
    forbidden_for,
    suggestion_text,
)


def hits_of(text: str, glossary: GlossaryDocument, lang: str = "de") -> list[tuple[str, str]]:
    return [(h.term, h.target) for h in expected_terms(text, glossary, "en", lang)]


def test_expected_terms_longest_first_each_once(acme: GlossaryDocument) -> None:
    text = "Open the Acme Cloud Console, then the dashboard and the Dashboard."
    assert hits_of(text, acme) == [
        ("Acme Cloud Console", "Acme Cloud-Konsole"),
        ("dashboard", "Übersicht"),
    ]


def test_case_sensitive_terms_need_their_case(acme: GlossaryDocument) -> None:
    assert hits_of("Create an API key", acme) == [("API key", "API-Schlüssel")]
    assert hits_of("create an api key", acme) == []
    assert hits_of("acme cloud", acme) == []


def test_whole_words_only(acme: GlossaryDocument) -> None:
    assert hits_of("invoices and subplans", acme) == []


def test_terms_without_a_translation_for_the_target_are_not_expected(
    acme: GlossaryDocument,
) -> None:
    assert hits_of("Your invoice", acme, "pl") == []
    assert hits_of("Welcome to Acme Cloud", acme, "pl") == [("Acme Cloud", "Acme Cloud")]


def test_forbidden_terms_are_not_expected(acme: GlossaryDocument) -> None:
    assert hits_of("a cheap plan", acme) == [("plan", "Tarif")]


def test_another_source_language_gets_no_hits(acme: GlossaryDocument) -> None:
    assert expected_terms("invoice", acme, "de", "fr") == []
    assert expected_terms("invoice", acme, "auto", "fr")[0].target == "facture"


def test_suggestion_text() -> None:
    hits = [TermHit("invoice", "Rechnung"), TermHit("SSO", "SSO", do_not_translate=True)]
    assert suggestion_text(hits, ["billig"]) == (
        'Use these glossary translations: "invoice" → "Rechnung".\n'
        'Keep these terms exactly as written: "SSO".\n'
        'Never use: "billig".'
    )
    assert suggestion_text([]) == ""


def test_forbidden_for_lists_renderings_of_terms_in_the_source(acme: GlossaryDocument) -> None:
    assert forbidden_for(acme, "A cheap trick", "de") == ["billig"]
    assert forbidden_for(acme, "A cheap trick", "pl") == ["cheap"]
    assert forbidden_for(acme, "Nothing here", "de") == []


def test_check_hits_misses_and_forbidden(acme: GlossaryDocument) -> None:
    hits = expected_terms("Download your invoice from Acme Cloud", acme, "en", "de")
    report = check("Laden Sie Ihre Rechnung aus Acme Cloud billig", hits, acme, "de")
    assert report.hits == ("Rechnung", "Acme Cloud")
    assert report.misses == ("herunterladen",)
    assert report.forbidden_found == ("billig",)
    assert not report.clean


def test_dnt_terms_must_stay_verbatim(acme: GlossaryDocument) -> None:
    hits = expected_terms("Welcome to Acme Cloud", acme, "en", "de")
    report = check("Willkommen bei Acme Wolke", hits, acme, "de")
    assert report.dnt_violations == ("Acme Cloud",) and report.misses == ()


@pytest.mark.parametrize(
    ("lang", "target", "text", "state"),
    [
        ("de", "Rechnung", "Ihre Rechnungen", "inflected"),
        ("de", "Rechnung", "Ihre rechnung", "exact"),  # sentence case is not a miss
        ("pl", "faktura", "Pobierz fakturę", "inflected"),
        ("pl", "faktura", "Pobierz plik", "missing"),
        ("ru", "счёт", "Оплатите счёта", "inflected"),
        ("fr", "espace de travail", "vos espaces de travail", "inflected"),
        ("de", "kostenlose Testphase", "Ihre kostenlosen Testphase", "inflected"),
        ("ja", "請求書", "請求書をダウンロード", "exact"),
        ("ja", "請求書", "請求をダウンロード", "missing"),
        ("en", "invoice", "invoices", "inflected"),
        ("en", "invoice", "invoke", "missing"),
    ],
)
def test_inflection_tolerance(lang: str, target: str, text: str, state: str) -> None:
    glossary = GlossaryDocument("en", (GlossaryEntry("x", {lang: target}),))
    report = check(text, [TermHit("x", target)], glossary, lang)
    assert {"exact": report.hits, "inflected": report.inflected, "missing": report.misses}[
        state
    ] == (target,)


def test_forbidden_scope_excludes_protected_text(acme: GlossaryDocument) -> None:
    text = "Siehe https://example.com/AcmeSoft"
    assert check(text, [], acme, "de").forbidden_found == ("AcmeSoft",)
    assert check(text, [], acme, "de", scope="Siehe  ").forbidden_found == ()


def test_forbidden_case_sensitivity(acme: GlossaryDocument) -> None:
    assert check("acmesoft", [], acme, "de").forbidden_found == ()
    assert check("BILLIG!", [], acme, "de").forbidden_found == ("billig",)


def test_forbidden_in_unspaced_languages_matches_inside_words(acme: GlossaryDocument) -> None:
    assert check("とても安っぽいです", [], acme, "ja").forbidden_found == ("安っぽい",)


DIRTY = ComplianceReport(misses=("Rechnung",))


@pytest.mark.parametrize(
    ("report", "policy", "attempt", "decision"),
    [
        (ComplianceReport(hits=("a",)), Policy.fail, 1, Decision.accept),
        (ComplianceReport(inflected=("a",)), Policy.fail, 2, Decision.accept),
        (DIRTY, Policy.report, 1, Decision.accept),
        (DIRTY, Policy.retry, 1, Decision.retry),
        (DIRTY, Policy.retry, 2, Decision.accept),
        (DIRTY, Policy.fail, 1, Decision.retry),
        (DIRTY, Policy.fail, 2, Decision.fail),
        (ComplianceReport(forbidden_found=("x",)), Policy.fail, 2, Decision.fail),
        (ComplianceReport(dnt_violations=("x",)), Policy.retry, 1, Decision.retry),
    ],
)
def test_decide(report: ComplianceReport, policy: Policy, attempt: int, decision: Decision) -> None:
    assert decide(report, policy, attempt) is decision
