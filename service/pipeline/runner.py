"""Translate one job into one target language, with the localization checks around each call.

Per language: glossary file (upload cache) → translation memory → plan each segment (mask
placeholders, split ICU messages, find glossary terms) → pack short texts into few agent calls
(split long ones into chunks) → restore and check every segment → retry once what failed its
checks, one call per segment with a stricter instruction → the outcome event with a QA report.

Each upstream call has a key (a hash of exactly what is sent); the async id Z.ai hands back is
stored under it before polling, so a restarted worker resumes the poll instead of submitting
again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary.model import GlossaryDocument
from service.glossary.upload_cache import PairKey, UploadCache
from service.l10n import qa
from service.l10n.compliance import Decision, Policy
from service.l10n.packing import PACKING_INSTRUCTION, Batch, pack, unpack
from service.l10n.segment import (
    GlossaryContext,
    SegmentPlan,
    SegmentResult,
    finish_segment,
    plan_segment,
    suggestion_for,
)
from service.metrics import Metrics
from service.pipeline import jobs
from service.pipeline.chunking import join_chunks, split_text
from service.pipeline.contracts import (
    ResourceFile,
    Timings,
    TranslatedSegment,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
    UsageV1,
)
from service.pipeline.events import event_id
from service.pipeline.memory import memory_key
from service.pipeline.resource import OpenedFile
from service.store.tables import MemoryEntry
from service.zai import (
    PendingTask,
    TranslateRequest,
    Translation,
    ZaiClient,
    ZaiError,
    ZaiFileNotFound,
)

logger = logging.getLogger(__name__)
Outcome = TranslationCompletedV1 | TranslationFailedV1
T = TypeVar("T")


@dataclass(frozen=True)
class GlossaryRef:
    """The glossary version a job is pinned to."""

    glossary_id: str
    version: int
    version_id: int
    content_hash: str
    source_lang: str
    load: Callable[[], Awaitable[GlossaryDocument]]


@dataclass
class JobContext:
    job_id: str
    created_at: float  # epoch seconds, for queue time
    request: TranslationRequestV1
    client: ZaiClient
    glossary: GlossaryRef | None
    glossary_error: str | None  # why the requested glossary cannot be used
    policy: Policy = Policy.report
    file: OpenedFile | None = None
    async_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> call key -> id
    _glossary_ctx: GlossaryContext | None = None

    @property
    def sources(self) -> list[tuple[str, str]]:
        """(id, text) of every unit to translate, in input order."""
        req = self.request
        if req.text is not None:
            return [("text", req.text)]
        if self.file is not None:
            return [(u.id, u.text) for u in self.file.units]
        return [(s.id, s.text) for s in req.segments or []]

    async def glossary_context(self) -> GlossaryContext | None:
        if self.glossary is None:
            return None
        if self._glossary_ctx is None:  # built once, shared by all target languages
            self._glossary_ctx = GlossaryContext.of(await self.glossary.load())
        return self._glossary_ctx


@dataclass
class _Tally:
    calls: list[Translation] = field(default_factory=list)
    memory_hits: int = 0


@dataclass
class _Localized:
    texts: list[str | None]
    qa: list[qa.SegmentQA]


class TargetRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: UploadCache,
        metrics: Metrics,
        *,
        chunk_chars: int,
        packing: bool = True,
        call_concurrency: int = 8,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._metrics = metrics
        self._chunk_chars = chunk_chars
        self._packing = packing
        self._call_concurrency = call_concurrency

    async def run(self, ctx: JobContext, lang: str) -> Outcome:
        started = time.time()
        req = ctx.request
        if ctx.glossary_error:
            return failed(req, lang, "glossary.not_usable", ctx.glossary_error, retryable=False)
        try:
            file_id = await self._glossary_file(ctx, lang)
            tally = _Tally()
            done = await self._localize(ctx, lang, file_id, tally)
        except ZaiError as exc:
            return failed(req, lang, exc.error_code, exc.message, exc.retryable, exc.code)
        report = qa.build_report(done.qa)
        for name, count in qa.metric_counts(report).items():
            self._metrics.qa.labels(name).inc(count)
        return self._assemble(ctx, lang, done, report, tally, started)

    async def _glossary_file(self, ctx: JobContext, lang: str) -> str | None:
        g = ctx.glossary
        if g is None:
            return None
        return await self._cache.ensure(ctx.client, self._pair(ctx, g, lang), g.load)

    @staticmethod
    def _pair(ctx: JobContext, g: GlossaryRef, lang: str) -> PairKey:
        return PairKey(ctx.client.key_fingerprint, g.version_id, g.source_lang, lang)

    # --- segments ------------------------------------------------------------------------

    async def _localize(
        self, ctx: JobContext, lang: str, file_id: str | None, tally: _Tally
    ) -> _Localized:
        sources = ctx.sources
        keys = [self._memory_key(ctx, lang, text) for _, text in sources]
        remembered = await self._recall(keys)
        texts: list[str | None] = [None] * len(sources)
        reports: dict[int, qa.SegmentQA] = {}
        glossary = await ctx.glossary_context()
        plans: dict[int, SegmentPlan] = {}
        for i, (_, text) in enumerate(sources):
            if keys[i] in remembered:
                texts[i] = remembered[keys[i]]
                reports[i] = _memory_qa(i, text, remembered[keys[i]])
                tally.memory_hits += 1
                self._metrics.memory_hits.inc()
            else:
                plans[i] = plan_segment(i, text, target_lang=lang, glossary=glossary)
        results = await self._attempt(ctx, lang, file_id, plans, glossary, tally, attempt=1)
        again = {i: plans[i] for i, r in results.items() if r.decision is Decision.retry}
        if again:
            hints = {i: results[i].retry_instruction for i in again}
            results |= await self._attempt(
                ctx, lang, file_id, again, glossary, tally, attempt=2, hints=hints
            )
        fresh: dict[str, str] = {}
        for i, result in results.items():
            texts[i], reports[i] = result.text, result.qa
            # Only clean translations are remembered: a reused one skips every check.
            if result.text is not None and result.qa.status == "ok":
                fresh[keys[i]] = result.text
        await self._remember(ctx.request.tenant_id, fresh)
        return _Localized(texts, [reports[i] for i in range(len(sources))])

    async def _attempt(
        self,
        ctx: JobContext,
        lang: str,
        file_id: str | None,
        plans: dict[int, SegmentPlan],
        glossary: GlossaryContext | None,
        tally: _Tally,
        *,
        attempt: int,
        hints: dict[int, str] | None = None,
    ) -> dict[int, SegmentResult]:
        flat = [(i, t) for i, plan in plans.items() for t in plan.texts]
        out, notes = await self._translate_all(ctx, lang, file_id, flat, plans, tally, hints)
        by_segment: dict[int, list[str]] = defaultdict(list)
        for (i, _), text in zip(flat, out, strict=True):
            by_segment[i].append(text)
        return {
            i: finish_segment(
                plan,
                by_segment.get(i, []),
                target_lang=lang,
                glossary=glossary,
                policy=ctx.policy,
                attempt=attempt,
                notes=notes.get(i, ()),
            )
            for i, plan in plans.items()
        }

    async def _translate_all(
        self,
        ctx: JobContext,
        lang: str,
        file_id: str | None,
        flat: Sequence[tuple[int, str]],
        plans: dict[int, SegmentPlan],
        tally: _Tally,
        hints: dict[int, str] | None,
    ) -> tuple[list[str], dict[int, list[qa.QaCode]]]:
        """Translate every text; packed into few calls on a first attempt, one by one on a retry."""
        texts = [t for _, t in flat]
        if hints is None and self._packing:
            batches = pack(texts, max_chars=self._chunk_chars)
        else:
            batches = [Batch((k,), text) for k, text in enumerate(texts)]
        out: list[str] = [""] * len(texts)
        notes: dict[int, list[qa.QaCode]] = defaultdict(list)
        gate = asyncio.Semaphore(self._call_concurrency)

        def suggestion(indices: Sequence[int], packed: bool) -> str:
            segs = list(dict.fromkeys(flat[k][0] for k in indices))
            parts = [
                ctx.request.instructions or "",
                PACKING_INSTRUCTION if packed else "",
                suggestion_for([plans[i] for i in segs]),
                *((hints or {}).get(i, "") for i in segs),
            ]
            return "\n".join(p for p in parts if p)

        async def run_batch(batch: Batch) -> None:
            async with gate:
                if batch.packed:
                    reply = await self._call(
                        ctx, lang, file_id, batch.text, suggestion(batch.indices, True), tally
                    )
                    parts = unpack(reply, batch)
                    if parts is not None:
                        for k, part in zip(batch.indices, parts, strict=True):
                            out[k] = part
                        return
                    for k in batch.indices:  # markers lost: one call per text instead
                        notes[flat[k][0]].append(qa.QaCode.packing_failed)
                for k in batch.indices:
                    out[k] = await self._chunked(
                        ctx, lang, file_id, texts[k], suggestion([k], False), tally
                    )

        await asyncio.gather(*(run_batch(b) for b in batches))
        return out, notes

    async def _chunked(
        self, ctx: JobContext, lang: str, file_id: str | None, text: str, hint: str, tally: _Tally
    ) -> str:
        chunks = split_text(text, self._chunk_chars)
        parts = [await self._call(ctx, lang, file_id, c.text, hint, tally) for c in chunks]
        return join_chunks(chunks, parts)

    # --- upstream ------------------------------------------------------------------------

    async def _call(
        self, ctx: JobContext, lang: str, file_id: str | None, text: str, hint: str, tally: _Tally
    ) -> str:
        try:
            result = await self._submit_or_resume(ctx, lang, file_id, text, hint)
        except ZaiFileNotFound:
            if file_id is None or ctx.glossary is None:
                raise
            # Z.ai forgot the glossary file (expired or deleted): upload again, try once more.
            key = self._pair(ctx, ctx.glossary, lang)
            await self._cache.invalidate(key, file_id)
            fresh = await self._cache.ensure(ctx.client, key, ctx.glossary.load)
            result = await self._submit_or_resume(ctx, lang, fresh, text, hint)
        tally.calls.append(result)
        self._metrics.polls.observe(result.polls)
        return result.text

    async def _submit_or_resume(
        self, ctx: JobContext, lang: str, file_id: str | None, text: str, hint: str
    ) -> Translation:
        req = ctx.request
        call_key = _call_key(lang, file_id, req.strategy, hint, text)
        known = ctx.async_ids.get(lang, {}).get(call_key)
        if known:
            return await self._timed("async_result", ctx.client.poll(known))
        upstream = TranslateRequest(
            text=text,
            target_lang=lang,
            source_lang=req.source_lang,
            glossary=file_id,
            strategy=req.strategy,
            suggestion=hint or None,
        )
        submitted = await self._timed("agents", ctx.client.submit(upstream))
        if isinstance(submitted, Translation):
            return submitted
        await self._save_async_id(ctx, lang, call_key, submitted)
        return await self._timed("async_result", ctx.client.poll(submitted.async_id))

    async def _save_async_id(
        self, ctx: JobContext, lang: str, call_key: str, task: PendingTask
    ) -> None:
        ctx.async_ids.setdefault(lang, {})[call_key] = task.async_id
        async with self._sessions() as s:
            await jobs.save_async_id(s, ctx.job_id, lang, call_key, task.async_id)

    async def _timed(self, route: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call
        except ZaiError as exc:
            outcome = exc.error_code
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.upstream_calls.labels(route, outcome).inc()
            self._metrics.upstream_latency.labels(route, outcome).observe(elapsed)

    # --- memory --------------------------------------------------------------------------

    @staticmethod
    def _memory_key(ctx: JobContext, lang: str, text: str) -> str:
        req = ctx.request
        return memory_key(
            tenant_id=req.tenant_id,
            text=text,
            source_lang=req.source_lang,
            target_lang=lang,
            glossary_hash=ctx.glossary.content_hash if ctx.glossary else None,
            strategy=req.strategy,
            instructions=req.instructions,
        )

    async def _recall(self, keys: list[str]) -> dict[str, str]:
        async with self._sessions() as s:
            rows = await s.exec(select(MemoryEntry).where(col(MemoryEntry.key).in_(set(keys))))
            return {row.key: row.target_text for row in rows.all()}

    async def _remember(self, tenant_id: str, entries: dict[str, str]) -> None:
        if not entries:
            return
        async with self._sessions() as s:
            known = await s.exec(
                select(MemoryEntry.key).where(col(MemoryEntry.key).in_(list(entries)))
            )
            new = set(entries) - set(known.all())
            s.add_all(MemoryEntry(key=k, tenant_id=tenant_id, target_text=entries[k]) for k in new)
            try:
                await s.commit()
            except Exception:  # a concurrent job stored the same segments first
                await s.rollback()

    # --- outcome -------------------------------------------------------------------------

    def _assemble(
        self,
        ctx: JobContext,
        lang: str,
        done: _Localized,
        report: qa.QaReport,
        tally: _Tally,
        started: float,
    ) -> Outcome:
        req = ctx.request
        ids = [uid for uid, _ in ctx.sources]
        failed_ids = [uid for uid, text in zip(ids, done.texts, strict=True) if text is None]
        if failed_ids and len(failed_ids) == len(ids):
            codes = sorted(
                {c.value for s in report.segments for c in s.codes if c in qa.FAILURE_CODES}
            )
            message = f"every segment failed its checks: {', '.join(codes) or 'unknown'}"
            return failed(req, lang, "qa.failed", message, retryable=True)
        now = time.time()
        completed = TranslationCompletedV1(
            event_id=event_id(req.tenant_id, req.request_id, lang),
            request_id=req.request_id,
            tenant_id=req.tenant_id,
            source_lang=req.source_lang,
            target_lang=lang,
            text=done.texts[0] if req.text is not None else None,
            segments=(
                [
                    TranslatedSegment(id=s.id, text=t)
                    for s, t in zip(req.segments, done.texts, strict=True)
                ]
                if req.segments is not None
                else None
            ),
            file=self._merged(ctx, ids, done.texts, lang),
            failed_segments=failed_ids,
            glossary_id=ctx.glossary.glossary_id if ctx.glossary else None,
            glossary_version=ctx.glossary.version if ctx.glossary else None,
            strategy=req.strategy,
            usage=_usage(tally),
            timings=Timings(
                queued_ms=max(0, int((started - ctx.created_at) * 1000)),
                upstream_ms=int((now - started) * 1000),
                total_ms=max(0, int((now - ctx.created_at) * 1000)),
            ),
            qa=report,
            metadata=req.metadata,
        )
        return completed

    @staticmethod
    def _merged(
        ctx: JobContext, ids: list[str], texts: list[str | None], lang: str
    ) -> ResourceFile | None:
        if ctx.file is None or ctx.request.file is None:
            return None
        done = {uid: t for uid, t in zip(ids, texts, strict=True) if t is not None}
        return ctx.file.merged(done, lang, ctx.request.file.filename)


def _call_key(lang: str, file_id: str | None, strategy: str, hint: str, text: str) -> str:
    """Identifies one upstream call by exactly what it sends (stable across restarts)."""
    raw = "\x1f".join([lang, file_id or "", strategy, hint, text])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _memory_qa(index: int, source: str, target: str) -> qa.SegmentQA:
    return qa.segment_report(
        index,
        source=source,
        target=target,
        placeholders=qa.PlaceholderQA(),
        glossary=qa.GlossaryQA(),
        extra_codes=[qa.QaCode.memory_hit],
    )


def _usage(tally: _Tally) -> UsageV1:
    calls = tally.calls
    return UsageV1(
        prompt_tokens=sum(r.usage.prompt_tokens for r in calls),
        completion_tokens=sum(r.usage.completion_tokens for r in calls),
        total_tokens=sum(r.usage.total_tokens for r in calls),
        upstream_calls=sum(r.attempts + r.polls for r in calls),
        memory_hits=tally.memory_hits,
    )


def failed(
    req: TranslationRequestV1,
    lang: str,
    code: str,
    message: str,
    retryable: bool,
    upstream_code: str | None = None,
) -> TranslationFailedV1:
    return TranslationFailedV1(
        event_id=event_id(req.tenant_id, req.request_id, lang),
        request_id=req.request_id,
        tenant_id=req.tenant_id,
        source_lang=req.source_lang,
        target_lang=lang,
        error_code=code,
        message=message,
        retryable=retryable,
        upstream_code=upstream_code,
        metadata=req.metadata,
    )
