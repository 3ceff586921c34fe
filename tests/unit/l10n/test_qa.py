from __future__ import annotations

import json

from service.l10n.compliance import ComplianceReport
from service.l10n.protect import mask, restore
from service.l10n.qa import (
    GlossaryQA,
    PlaceholderQA,
    QaCode,
    QaReport,
    build_report,
    glossary_qa,
    length_ratio,
    metric_counts,
    placeholder_qa,
    segment_report,
)


def test_placeholder_qa_lists_originals() -> None:
    masked = mask("{a} <b>{c}</b>")
    qa = placeholder_qa([restore("⟦1⟧ ⟦1⟧ ⟦2⟧ ⟦4⟧ ⟦7⟧", masked)], masked.kinds)
    assert qa.expected == 4 and qa.kinds == {"placeholder": 2, "tag": 2}
    assert (qa.missing, qa.duplicated, qa.unexpected) == (["{c}"], ["{a}"], ["⟦7⟧"])
    assert not qa.ok


def test_clean_segment_is_ok() -> None:
    report = segment_report(
        0, source="Save", target="Speichern", placeholders=PlaceholderQA(), glossary=GlossaryQA()
    )
    assert (report.status, report.codes, report.length_ratio) == ("ok", [], 2.25)


def test_failed_segment_has_no_ratio_and_failure_codes() -> None:
    report = segment_report(
        3,
        source="Hi {name}",
        target=None,
        placeholders=PlaceholderQA(expected=1, missing=["{name}"]),
        glossary=GlossaryQA(),
        attempts=2,
    )
    assert report.status == "failed" and report.length_ratio is None
    assert report.codes == [QaCode.placeholder_missing, QaCode.retried]


def test_warnings_and_info_codes() -> None:
    glossary = glossary_qa(ComplianceReport(inflected=("Rechnung",)))
    info = segment_report(
        0, source="x", target="y", placeholders=PlaceholderQA(), glossary=glossary
    )
    assert info.status == "ok" and info.codes == [QaCode.glossary_inflected]
    warn = segment_report(
        0,
        source="x",
        target="y",
        placeholders=PlaceholderQA(),
        glossary=glossary_qa(ComplianceReport(misses=("a",), forbidden_found=("b",))),
        plural_filled=["n:few"],
    )
    assert warn.status == "warning"
    assert warn.codes == [QaCode.glossary_miss, QaCode.forbidden_term, QaCode.plural_filled]


def test_length_ratio_is_flagged_for_long_sources_only() -> None:
    long = segment_report(
        0, source="a" * 40, target="b" * 200, placeholders=PlaceholderQA(), glossary=GlossaryQA()
    )
    short = segment_report(
        0, source="OK", target="In Ordnung", placeholders=PlaceholderQA(), glossary=GlossaryQA()
    )
    assert QaCode.length_ratio in long.codes and long.status == "warning"
    assert short.codes == []
    assert length_ratio("", "x") is None


def test_report_totals_metrics_and_json() -> None:
    ok = segment_report(
        1, source="a", target="b", placeholders=PlaceholderQA(expected=2), glossary=GlossaryQA()
    )
    failed = segment_report(
        0,
        source="a",
        target=None,
        placeholders=PlaceholderQA(expected=1, duplicated=["{x}"]),
        glossary=GlossaryQA(hits=["Rechnung"], misses=["Tarif"]),
        attempts=2,
    )
    report = build_report([ok, failed])
    assert [s.index for s in report.segments] == [0, 1]
    totals = report.totals
    assert (totals.segments, totals.ok, totals.failed, totals.placeholders) == (2, 1, 1, 3)
    assert (totals.placeholder_errors, totals.glossary_hits, totals.glossary_misses) == (1, 1, 1)
    assert totals.retries == 1
    assert metric_counts(report) == {
        "qa_glossary_miss": 1,
        "qa_placeholder_duplicated": 1,
        "qa_retried": 1,
        "segments_failed": 1,
        "segments_ok": 1,
    }
    data = json.loads(report.model_dump_json())
    assert data["segments"][0]["codes"] == ["placeholder_duplicated", "glossary_miss", "retried"]
    assert QaReport.model_validate(data) == report
