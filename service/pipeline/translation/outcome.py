"""A finished run as its outcome event: the translated text, segments or file, the usage, the
timings and the QA report; or `qa.failed` when every segment failed its checks."""

from __future__ import annotations

import time

from service.errors import FailureCode
from service.l10n import qa
from service.pipeline.contract.events import event_id
from service.pipeline.contract.messages import (
    ResourceFile,
    Timings,
    TranslatedSegment,
    TranslationCompletedV1,
    UsageV1,
)
from service.pipeline.contract.outcomes import Outcome, failed
from service.pipeline.translation.calls import UpstreamCalls
from service.pipeline.translation.context import JobContext
from service.pipeline.translation.segments import Segments


def outcome(
    ctx: JobContext,
    lang: str,
    segments: Segments,
    report: qa.QaReport,
    calls: UpstreamCalls,
    started: float,
) -> Outcome:
    req, texts = ctx.request, segments.texts
    ids = [uid for uid, _ in ctx.sources]
    failed_ids = [uid for uid, text in zip(ids, texts, strict=True) if text is None]
    if failed_ids and len(failed_ids) == len(ids):
        codes = sorted({c.value for s in report.segments for c in s.codes if c in qa.FAILURE_CODES})
        message = f"every segment failed its checks: {', '.join(codes) or 'unknown'}"
        return failed(req, lang, FailureCode.qa_failed, message, retryable=True)
    result = None
    if req.segments is not None:
        pairs = zip(req.segments, texts, strict=True)
        result = [TranslatedSegment(id=s.id, text=t) for s, t in pairs]
    return TranslationCompletedV1(
        event_id=event_id(req.tenant_id, req.request_id, lang),
        request_id=req.request_id,
        tenant_id=req.tenant_id,
        source_lang=req.source_lang,
        target_lang=lang,
        text=texts[0] if req.text is not None else None,
        segments=result,
        file=_merged(ctx, lang, ids, texts),
        failed_segments=failed_ids,
        glossary_id=ctx.glossary.glossary_id if ctx.glossary else None,
        glossary_version=ctx.glossary.version if ctx.glossary else None,
        strategy=req.strategy,
        usage=_usage(ctx, segments, calls),
        timings=_timings(ctx, started),
        qa=report,
        metadata=req.metadata,
    )


def _merged(
    ctx: JobContext, lang: str, ids: list[str], texts: list[str | None]
) -> ResourceFile | None:
    file, req = ctx.file, ctx.request
    if file is None or req.file is None:
        return None
    done = {uid: t for uid, t in zip(ids, texts, strict=True) if t is not None}
    return file.merged(done, lang, req.file.filename)


def _usage(ctx: JobContext, segments: Segments, calls: UpstreamCalls) -> UsageV1:
    results, held = calls.results, ctx.estimate
    return UsageV1(
        prompt_tokens=sum(r.usage.prompt_tokens for r in results),
        completion_tokens=sum(r.usage.completion_tokens for r in results),
        total_tokens=sum(r.usage.total_tokens for r in results),
        upstream_calls=sum(r.attempts + r.polls for r in results),
        memory_hits=segments.hits,
        source_chars=sum(len(text) for _, text in ctx.sources),
        packed_calls_saved=calls.packed_saved,
        estimated_tokens=held.per_language if held else 0,
        estimate=held.method if held else None,
    )


def _timings(ctx: JobContext, started: float) -> Timings:
    now, created = time.time(), ctx.job.created_at.timestamp()
    return Timings(
        queued_ms=max(0, int((started - created) * 1000)),
        upstream_ms=int((now - started) * 1000),
        total_ms=max(0, int((now - created) * 1000)),
    )
