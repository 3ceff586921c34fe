"""The console's pure view builders: marks in a text, a job's side-by-side rows, bar charts."""

from __future__ import annotations

from service.api.console.chart import bar_chart
from service.api.console.job_view import language_view, sources_of
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.l10n.highlight import highlight

DOC = GlossaryDocument(
    "en",
    (
        GlossaryEntry("invoice", {"de": "Rechnung"}),
        GlossaryEntry("dashboard", {"de": "Übersicht"}),
        GlossaryEntry("Acme", do_not_translate=True),
    ),
)


def test_placeholders_and_terms_are_marked_and_a_term_never_inside_a_placeholder() -> None:
    got = highlight("Open {dashboard} and the Dashboard, <b>now</b>", {"term": ["dashboard"]})
    assert got == [
        ("Open ", None),
        ("{dashboard}", "placeholder"),
        (" and the ", None),
        ("Dashboard", "term"),
        (", ", None),
        ("<b>", "placeholder"),
        ("now", None),
        ("</b>", "placeholder"),
    ]
    assert highlight("plain") == [("plain", None)]
    assert highlight("", {"term": [" "]}) == []


def test_segments_come_failures_first_with_terms_mapped_back_to_the_source() -> None:
    request = {
        "segments": [
            {"id": "ok", "text": "Open the dashboard"},
            {"id": "bad", "text": "Hello {name}, your invoice"},
        ]
    }
    outcome = {
        "segments": [
            {"id": "ok", "text": "Öffnen Sie die Übersicht"},
            {"id": "bad", "text": "Hallo"},
        ],
        "qa": {
            "segments": [
                {"index": 0, "status": "ok", "glossary": {"hits": ["Übersicht"]}},
                {
                    "index": 1,
                    "status": "failed",
                    "glossary": {"misses": ["Rechnung"]},
                    "placeholders": {"missing": ["{name}"]},
                    "codes": ["placeholder_missing"],
                },
            ]
        },
    }
    sources, fmt = sources_of(request)
    view = language_view("de", "completed", outcome, sources, fmt, DOC)
    first, second = view.rows
    assert (first.id, first.status, second.id) == ("bad", "failed", "ok")
    assert ("invoice", "term-missed") in first.source and ("{name}", "placeholder") in first.source
    assert first.issues == [
        "placeholder_missing",
        "placeholder missing: {name}",
        "glossary: “invoice” should be “Rechnung”",
    ]
    assert ("dashboard", "term") in second.source and ("Übersicht", "term") in second.target  # type: ignore[operator]


def test_a_failed_language_has_no_translations_and_says_why() -> None:
    sources, _ = sources_of({"text": "Hi"})
    failed = {"error_code": "glossary.not_found", "message": "no glossary 'x'"}
    view = language_view("fr", "failed", failed, sources, None, None)
    assert [r.target for r in view.rows] == [None]
    assert view.note == "glossary.not_found: no glossary 'x'"


def test_bars_scale_to_a_round_top_and_empty_data_draws_nothing() -> None:
    chart = bar_chart("Tokens", [("01", 40), ("02", 160), ("03", 0)])
    assert [t for _, t in chart.ticks] == ["0", "50", "100", "150", "200"]
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.label == "02" and round(tallest.height / chart.bars[0].height) == 4
    assert chart.bars[2].height == 0
    empty = bar_chart("Nothing", [])
    assert empty.bars == [] and {t for _, t in empty.ticks} == {"0"}
    assert bar_chart("Big", [("x", 1_234_567)]).ticks[-1][1] == "2M"
