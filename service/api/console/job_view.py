"""The job page's side-by-side view, built from what the job stored (pure: no I/O).

For each language: every segment's source and translation, failures first, warnings next,
with placeholders and the glossary terms of its QA report marked (`service.l10n.highlight`).
Sources come from the stored request (its text, segments, or the units of its file);
translations from the language's event (its text or segments, or the units of the translated
file, for formats that keep one language per file: a PO or XLIFF file holds source and target
side by side already, and its per-unit translations are not shown here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.glossary.model import GlossaryDocument
from service.l10n.formats import ResourceFormatError
from service.l10n.highlight import Fragment, highlight
from service.pipeline.contract.messages import ResourceFile
from service.pipeline.contract.resource import open_file

_ORDER = {"failed": 0, "warning": 1, "ok": 2}


@dataclass(frozen=True)
class SegmentRow:
    index: int
    id: str
    status: str  # ok | warning | failed (the QA report's), or "" with no report
    source: list[Fragment]
    target: list[Fragment] | None  # None: no translation (failed, or not shown for the format)
    issues: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LanguageView:
    lang: str
    state: str
    rows: list[SegmentRow]
    note: str | None = None


def sources_of(request: Mapping[str, Any]) -> tuple[list[tuple[str, str]], str | None]:
    """(id, text) of each unit the request had translated, and its file format, if any."""
    if request.get("text") is not None:
        return [("text", request["text"])], None
    if request.get("file"):
        opened = _opened(request["file"])
        units = [(u.id, u.text) for u in opened.units] if opened else []
        return units, opened.format.name if opened else None
    return [(s["id"], s["text"]) for s in request.get("segments") or []], None


def language_view(
    lang: str,
    state: str,
    outcome: Mapping[str, Any] | None,
    sources: list[tuple[str, str]],
    fmt: str | None,
    doc: GlossaryDocument | None,
) -> LanguageView:
    outcome = outcome or {}
    translations, note = _translations(outcome, fmt)
    reports = {s["index"]: s for s in (outcome.get("qa") or {}).get("segments") or []}
    rows = [
        _row(i, uid, text, translations.get(uid), reports.get(i), lang, doc)
        for i, (uid, text) in enumerate(sources)
    ]
    rows.sort(key=lambda r: (_ORDER.get(r.status, 3), r.index))
    if outcome.get("error_code"):
        note = f"{outcome['error_code']}: {outcome.get('message', '')}"
    return LanguageView(lang, state, rows, note)


def _translations(outcome: Mapping[str, Any], fmt: str | None) -> tuple[dict[str, str], str | None]:
    if outcome.get("text") is not None:
        return {"text": outcome["text"]}, None
    if outcome.get("segments") is not None:
        return {s["id"]: s["text"] for s in outcome["segments"] if s.get("text") is not None}, None
    if outcome.get("file"):
        if fmt == "po" or (fmt or "").startswith("xliff"):
            return {}, f"the translated {fmt} file holds each unit's source and translation"
        opened = _opened(outcome["file"])
        return ({u.id: u.text for u in opened.units} if opened else {}), None
    return {}, None


def _row(
    index: int,
    uid: str,
    source: str,
    target: str | None,
    report: Mapping[str, Any] | None,
    lang: str,
    doc: GlossaryDocument | None,
) -> SegmentRow:
    """The QA report names glossary targets (found or missed); the glossary maps them back
    to the source terms to mark in the source."""
    report = report or {}
    glossary = report.get("glossary") or {}
    found = [*glossary.get("hits", []), *glossary.get("inflected", [])]
    missed = glossary.get("misses", [])
    sources = _source_terms(doc, lang)
    issues = [str(code) for code in report.get("codes") or []]
    placeholders = report.get("placeholders") or {}
    issues += [f"placeholder missing: {p}" for p in placeholders.get("missing", [])]
    issues += [_missed(t, sources) for t in missed]
    issues += [f"do-not-translate term changed: {t}" for t in glossary.get("dnt_violations", [])]
    issues += [f"forbidden term used: {t}" for t in glossary.get("forbidden_found", [])]
    source_marks = {
        "term": [sources[t.casefold()] for t in found if t.casefold() in sources],
        "term-missed": [
            *(sources[t.casefold()] for t in missed if t.casefold() in sources),
            *glossary.get("dnt_violations", []),
        ],
    }
    target_marks = {"term": found, "forbidden": glossary.get("forbidden_found", [])}
    return SegmentRow(
        index=index,
        id=uid,
        status=str(report.get("status", "")),
        source=highlight(source, source_marks),
        target=highlight(target, target_marks) if target is not None else None,
        issues=issues,
    )


def _source_terms(doc: GlossaryDocument | None, lang: str) -> dict[str, str]:
    """The glossary's expected text in `lang` (case-folded) → its source term."""
    out: dict[str, str] = {}
    for entry in doc.entries if doc else ():
        text = entry.target_text(lang)
        if text:
            out.setdefault(text.casefold(), entry.term)
    return out


def _missed(target: str, sources: Mapping[str, str]) -> str:
    term = sources.get(target.casefold())
    return f"glossary: “{term}” should be “{target}”" if term else f"glossary: “{target}” missing"


def _opened(file: Mapping[str, Any]) -> Any:
    try:
        return open_file(ResourceFile.model_validate(file))
    except (ResourceFormatError, ValueError):
        return None
