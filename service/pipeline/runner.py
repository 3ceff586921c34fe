"""Translate one job into one target language: memory first, then the agent, chunk by chunk.

Each upstream unit (segment and chunk) has a key; the async id Z.ai hands back is stored under
it before polling, so a restarted worker resumes the poll instead of submitting again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary.model import GlossaryDocument
from service.glossary.upload_cache import PairKey, UploadCache
from service.metrics import Metrics
from service.pipeline import jobs
from service.pipeline.chunking import join_chunks, split_text
from service.pipeline.contracts import (
    Segment,
    Timings,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
    UsageV1,
)
from service.pipeline.events import event_id
from service.pipeline.memory import memory_key
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
T = TypeVar("T")
Outcome = TranslationCompletedV1 | TranslationFailedV1


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
    async_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> unit -> id


@dataclass
class _Tally:
    usage: list[Translation] = field(default_factory=list)
    memory_hits: int = 0


class TargetRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cache: UploadCache,
        metrics: Metrics,
        *,
        chunk_chars: int,
        unit_concurrency: int = 8,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._metrics = metrics
        self._chunk_chars = chunk_chars
        self._unit_concurrency = unit_concurrency

    async def run(self, ctx: JobContext, lang: str) -> Outcome:
        started = time.time()
        req = ctx.request
        if ctx.glossary_error:
            return failed(req, lang, "glossary.not_usable", ctx.glossary_error, retryable=False)
        try:
            file_id = await self._glossary_file(ctx, lang)
            tally = _Tally()
            texts = await self._translate_units(ctx, lang, file_id, tally)
        except ZaiError as exc:
            return failed(req, lang, exc.error_code, exc.message, exc.retryable, exc.code)
        return self._completed(ctx, lang, texts, tally, started)

    async def _glossary_file(self, ctx: JobContext, lang: str) -> str | None:
        g = ctx.glossary
        if g is None:
            return None
        key = PairKey(ctx.client.key_fingerprint, g.version_id, g.source_lang, lang)
        return await self._cache.ensure(ctx.client, key, g.load)

    async def _translate_units(
        self, ctx: JobContext, lang: str, file_id: str | None, tally: _Tally
    ) -> list[str]:
        req = ctx.request
        units = (
            [("text", req.text)]
            if req.text is not None
            else [(s.id, s.text) for s in req.segments or []]
        )
        gate = asyncio.Semaphore(self._unit_concurrency)

        async def one(unit_id: str, text: str) -> str:
            async with gate:
                return await self._unit(ctx, lang, file_id, unit_id, text, tally)

        return list(await asyncio.gather(*(one(u, t) for u, t in units)))

    async def _unit(
        self,
        ctx: JobContext,
        lang: str,
        file_id: str | None,
        unit_id: str,
        text: str,
        tally: _Tally,
    ) -> str:
        if not text.strip():
            return text  # nothing to translate; Z.ai rejects empty content
        req = ctx.request
        key = memory_key(
            tenant_id=req.tenant_id,
            text=text,
            source_lang=req.source_lang,
            target_lang=lang,
            glossary_hash=ctx.glossary.content_hash if ctx.glossary else None,
            strategy=req.strategy,
            instructions=req.instructions,
        )
        async with self._sessions() as s:
            hit = await s.get(MemoryEntry, key)
        if hit is not None:
            tally.memory_hits += 1
            self._metrics.memory_hits.inc()
            return hit.target_text
        chunks = split_text(text, self._chunk_chars)
        parts = [
            await self._call(ctx, lang, file_id, f"{unit_id}#{i}", c.text, tally)
            for i, c in enumerate(chunks)
        ]
        translated = join_chunks(chunks, parts)
        await self._remember(key, req.tenant_id, translated)
        return translated

    async def _call(
        self,
        ctx: JobContext,
        lang: str,
        file_id: str | None,
        unit_key: str,
        text: str,
        tally: _Tally,
    ) -> str:
        try:
            result = await self._submit_or_resume(ctx, lang, file_id, unit_key, text)
        except ZaiFileNotFound:
            if file_id is None or ctx.glossary is None:
                raise
            # Z.ai forgot the glossary file (expired or deleted): upload again, try once more.
            key = PairKey(
                ctx.client.key_fingerprint, ctx.glossary.version_id, ctx.glossary.source_lang, lang
            )
            await self._cache.invalidate(key, file_id)
            fresh = await self._cache.ensure(ctx.client, key, ctx.glossary.load)
            result = await self._submit_or_resume(ctx, lang, fresh, unit_key, text, resume=False)
        tally.usage.append(result)
        self._metrics.polls.observe(result.polls)
        return result.text

    async def _submit_or_resume(
        self,
        ctx: JobContext,
        lang: str,
        file_id: str | None,
        unit_key: str,
        text: str,
        *,
        resume: bool = True,
    ) -> Translation:
        known = ctx.async_ids.get(lang, {}).get(unit_key)
        if resume and known:
            return await self._timed("async_result", ctx.client.poll(known))
        req = ctx.request
        upstream = TranslateRequest(
            text=text,
            target_lang=lang,
            source_lang=req.source_lang,
            glossary=file_id,
            strategy=req.strategy,
            suggestion=req.instructions,
        )
        submitted = await self._timed("agents", ctx.client.submit(upstream))
        if isinstance(submitted, Translation):
            return submitted
        await self._save_async_id(ctx, lang, unit_key, submitted)
        return await self._timed("async_result", ctx.client.poll(submitted.async_id))

    async def _save_async_id(
        self, ctx: JobContext, lang: str, unit_key: str, task: PendingTask
    ) -> None:
        ctx.async_ids.setdefault(lang, {})[unit_key] = task.async_id
        async with self._sessions() as s:
            await jobs.save_async_id(s, ctx.job_id, lang, unit_key, task.async_id)

    async def _timed(self, route: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call
        except ZaiError as exc:
            outcome = exc.error_code
            raise
        finally:
            self._metrics.upstream_calls.labels(route, outcome).inc()
            self._metrics.upstream_latency.labels(route, outcome).observe(
                time.perf_counter() - started
            )

    async def _remember(self, key: str, tenant_id: str, text: str) -> None:
        async with self._sessions() as s:
            if await s.get(MemoryEntry, key) is None:
                s.add(MemoryEntry(key=key, tenant_id=tenant_id, target_text=text))
                try:
                    await s.commit()
                except Exception:  # a concurrent job stored the same segment first
                    await s.rollback()

    def _completed(
        self, ctx: JobContext, lang: str, texts: list[str], tally: _Tally, started: float
    ) -> TranslationCompletedV1:
        req = ctx.request
        now = time.time()
        segments = None
        if req.segments is not None:
            segments = [Segment(id=s.id, text=t) for s, t in zip(req.segments, texts, strict=True)]
        usage = UsageV1(
            prompt_tokens=sum(r.usage.prompt_tokens for r in tally.usage),
            completion_tokens=sum(r.usage.completion_tokens for r in tally.usage),
            total_tokens=sum(r.usage.total_tokens for r in tally.usage),
            upstream_calls=sum(r.attempts + r.polls for r in tally.usage),
            memory_hits=tally.memory_hits,
        )
        return TranslationCompletedV1(
            event_id=event_id(req.tenant_id, req.request_id, lang),
            request_id=req.request_id,
            tenant_id=req.tenant_id,
            source_lang=req.source_lang,
            target_lang=lang,
            text=texts[0] if req.text is not None else None,
            segments=segments,
            glossary_id=ctx.glossary.glossary_id if ctx.glossary else None,
            glossary_version=ctx.glossary.version if ctx.glossary else None,
            strategy=req.strategy,
            usage=usage,
            timings=Timings(
                queued_ms=max(0, int((started - ctx.created_at) * 1000)),
                upstream_ms=int((now - started) * 1000),
                total_ms=max(0, int((now - ctx.created_at) * 1000)),
            ),
            metadata=req.metadata,
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
