"""The QA report carried by every `translation.completed` event, and its metrics counters.

Per segment: placeholder integrity, glossary hits and misses, do-not-translate violations,
forbidden terms, plural categories filled or dropped, the length ratio, and `codes`, the
machine-readable summary. A segment is `failed` (no text is delivered for it), `warning`
(delivered, with something to review) or `ok`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.l10n.compliance import ComplianceReport
from service.l10n.protect import Restored

SegmentStatus = Literal["ok", "warning", "failed"]

#: Length ratios outside these bounds are flagged (for sources of `_RATIO_MIN_CHARS` or more).
RATIO_BOUNDS = (0.2, 3.0)
_RATIO_MIN_CHARS = 20


class QaCode(StrEnum):
    placeholder_missing = "placeholder_missing"
    placeholder_duplicated = "placeholder_duplicated"
    placeholder_unexpected = "placeholder_unexpected"
    icu_invalid = "icu_invalid"  # the translated ICU message could not be rebuilt
    packing_failed = "packing_failed"  # segment markers lost; fell back to one call per segment
    glossary_miss = "glossary_miss"
    glossary_inflected = "glossary_inflected"
    dnt_violation = "dnt_violation"
    forbidden_term = "forbidden_term"
    glossary_policy = "glossary_policy"  # the tenant's `fail` policy rejected the segment
    plural_filled = "plural_filled"  # a target category copied from the source's `other`
    plural_dropped = "plural_dropped"
    length_ratio = "length_ratio"
    retried = "retried"
    memory_hit = "memory_hit"  # served from translation memory (checked when first stored)


#: Codes that mean the segment was not delivered.
FAILURE_CODES = frozenset(
    [
        QaCode.placeholder_missing,
        QaCode.placeholder_duplicated,
        QaCode.placeholder_unexpected,
        QaCode.icu_invalid,
        QaCode.glossary_policy,
    ]
)
#: Codes that are information only: the segment stays `ok`.
INFO_CODES = frozenset(
    [
        QaCode.retried,
        QaCode.packing_failed,
        QaCode.plural_dropped,
        QaCode.glossary_inflected,
        QaCode.memory_hit,
    ]
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlaceholderQA(_Model):
    expected: int = 0
    kinds: dict[str, int] = Field(default_factory=dict)  # "tag": 2, "placeholder": 1, …
    missing: list[str] = Field(default_factory=list)  # originals, e.g. "{name}"
    duplicated: list[str] = Field(default_factory=list)
    unexpected: list[str] = Field(default_factory=list)  # tokens the model invented

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)


class GlossaryQA(_Model):
    hits: list[str] = Field(default_factory=list)
    inflected: list[str] = Field(default_factory=list)
    misses: list[str] = Field(default_factory=list)
    dnt_violations: list[str] = Field(default_factory=list)
    forbidden_found: list[str] = Field(default_factory=list)


class SegmentQA(_Model):
    index: int
    status: SegmentStatus
    attempts: int = 1
    placeholders: PlaceholderQA = Field(default_factory=PlaceholderQA)
    glossary: GlossaryQA = Field(default_factory=GlossaryQA)
    plural_filled: list[str] = Field(default_factory=list)  # "count:few"
    plural_dropped: list[str] = Field(default_factory=list)
    length_ratio: float | None = None  # target / source characters
    codes: list[QaCode] = Field(default_factory=list)


class QaTotals(_Model):
    segments: int = 0
    ok: int = 0
    warning: int = 0
    failed: int = 0
    placeholders: int = 0
    placeholder_errors: int = 0
    glossary_hits: int = 0
    glossary_misses: int = 0
    dnt_violations: int = 0
    forbidden_terms: int = 0
    retries: int = 0


class QaReport(_Model):
    segments: list[SegmentQA] = Field(default_factory=list)
    totals: QaTotals = Field(default_factory=QaTotals)


def placeholder_qa(restored: Iterable[Restored], kinds: Counter[str]) -> PlaceholderQA:
    """Integrity of all units of a segment (one `Restored` per unit)."""
    done = list(restored)
    return PlaceholderQA(
        expected=sum(kinds.values()),
        kinds=dict(sorted(kinds.items())),
        missing=[p.original for r in done for p in r.missing],
        duplicated=[p.original for r in done for p in r.duplicated],
        unexpected=[t for r in done for t in r.unexpected],
    )


def glossary_qa(report: ComplianceReport | None) -> GlossaryQA:
    if report is None:
        return GlossaryQA()
    return GlossaryQA(
        hits=list(report.hits),
        inflected=list(report.inflected),
        misses=list(report.misses),
        dnt_violations=list(report.dnt_violations),
        forbidden_found=list(report.forbidden_found),
    )


def length_ratio(source: str, target: str) -> float | None:
    return round(len(target) / len(source), 3) if source else None


def segment_report(
    index: int,
    *,
    source: str,
    target: str | None,
    placeholders: PlaceholderQA,
    glossary: GlossaryQA,
    attempts: int = 1,
    plural_filled: Sequence[str] = (),
    plural_dropped: Sequence[str] = (),
    extra_codes: Iterable[QaCode] = (),
) -> SegmentQA:
    """One segment's report; `target` None means the segment failed (nothing delivered)."""
    ratio = length_ratio(source, target) if target is not None else None
    codes = _codes(placeholders, glossary, attempts, plural_filled, plural_dropped, extra_codes)
    if ratio is not None and len(source) >= _RATIO_MIN_CHARS:
        if not RATIO_BOUNDS[0] <= ratio <= RATIO_BOUNDS[1]:
            codes.append(QaCode.length_ratio)
    return SegmentQA(
        index=index,
        status=_status(codes, target is None),
        attempts=attempts,
        placeholders=placeholders,
        glossary=glossary,
        plural_filled=list(plural_filled),
        plural_dropped=list(plural_dropped),
        length_ratio=ratio,
        codes=codes,
    )


def _codes(
    placeholders: PlaceholderQA,
    glossary: GlossaryQA,
    attempts: int,
    filled: Sequence[str],
    dropped: Sequence[str],
    extra: Iterable[QaCode],
) -> list[QaCode]:
    flags = [
        (placeholders.missing, QaCode.placeholder_missing),
        (placeholders.duplicated, QaCode.placeholder_duplicated),
        (placeholders.unexpected, QaCode.placeholder_unexpected),
        (glossary.misses, QaCode.glossary_miss),
        (glossary.inflected, QaCode.glossary_inflected),
        (glossary.dnt_violations, QaCode.dnt_violation),
        (glossary.forbidden_found, QaCode.forbidden_term),
        (filled, QaCode.plural_filled),
        (dropped, QaCode.plural_dropped),
        (attempts > 1, QaCode.retried),
    ]
    codes = [code for present, code in flags if present]
    return codes + [code for code in extra if code not in codes]


def _status(codes: list[QaCode], failed: bool) -> SegmentStatus:
    if failed or FAILURE_CODES.intersection(codes):
        return "failed"
    return "warning" if any(code not in INFO_CODES for code in codes) else "ok"


def build_report(segments: Iterable[SegmentQA]) -> QaReport:
    """The event's report: segments in index order and their totals."""
    ordered = sorted(segments, key=lambda s: s.index)
    statuses = Counter(s.status for s in ordered)
    totals = QaTotals(
        segments=len(ordered),
        ok=statuses["ok"],
        warning=statuses["warning"],
        failed=statuses["failed"],
        placeholders=sum(s.placeholders.expected for s in ordered),
        placeholder_errors=sum(not s.placeholders.ok for s in ordered),
        glossary_hits=sum(len(s.glossary.hits) + len(s.glossary.inflected) for s in ordered),
        glossary_misses=sum(len(s.glossary.misses) for s in ordered),
        dnt_violations=sum(len(s.glossary.dnt_violations) for s in ordered),
        forbidden_terms=sum(len(s.glossary.forbidden_found) for s in ordered),
        retries=sum(s.attempts - 1 for s in ordered),
    )
    return QaReport(segments=ordered, totals=totals)


def metric_counts(report: QaReport) -> dict[str, int]:
    """Counters for metrics: `segments_<status>` and `qa_<code>` (segments with that code)."""
    counts: Counter[str] = Counter(f"segments_{s.status}" for s in report.segments)
    counts.update(f"qa_{code.value}" for s in report.segments for code in s.codes)
    return dict(sorted(counts.items()))
