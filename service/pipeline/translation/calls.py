"""A run's calls upstream, and the glossary file they carry.

Each call has a key (a hash of exactly what is sent); the async id Z.ai hands back is stored
under it before polling, so a restarted worker resumes the poll instead of submitting again.
It is stored only while this worker holds the job's lease: a worker that took the job over read
its ids when it claimed, so a later one would be lost to it; the run ends with `LeaseLost`
instead. A text longer than a call takes goes in chunks (`chunking.py`); a glossary file Z.ai
forgot is uploaded again, once, and the call sent again with it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable
from typing import TypeVar

from service.errors import LeaseLost, UpstreamError
from service.metrics import child
from service.pipeline.ports import (
    DocLoader,
    PairKey,
    Translator,
    UpstreamRequest,
    UpstreamTask,
    UpstreamTranslation,
)
from service.pipeline.translation.chunking import chars_for_tokens, join_chunks, split_text
from service.pipeline.translation.context import JobContext
from service.pipeline.translation.deps import RunDeps

T = TypeVar("T")


class GlossaryFile:
    """The run's glossary file: its id from the upload cache, and a fresh one if refused."""

    __slots__ = ("_deps", "_key", "_load", "_translator", "id")

    def __init__(self, deps: RunDeps, translator: Translator, key: PairKey, load: DocLoader):
        self._deps, self._translator, self._key, self._load = deps, translator, key, load
        self.id: str | None = None

    async def ensure(self) -> str | None:
        """The file id, uploading first if needed; None if the pair has no terms."""
        files, translator, key, load = self._deps.files, self._translator, self._key, self._load
        self.id = await self._deps.durable(
            "glossary file", lambda: files.ensure(translator, key, load)
        )
        return self.id

    async def refresh(self, stale: str) -> str | None:
        """Z.ai forgot the glossary file (expired or deleted): upload it again."""
        files, key = self._deps.files, self._key
        await self._deps.durable("glossary file", lambda: files.invalidate(key, stale))
        return await self.ensure()


class UpstreamCalls:
    """The calls of one (job, language) run, and what they cost (for the usage report)."""

    __slots__ = (
        "_ctx",
        "_deps",
        "_lang",
        "_submitted",
        "_translator",
        "glossary",
        "packed_saved",
        "results",
    )

    def __init__(
        self,
        deps: RunDeps,
        ctx: JobContext,
        lang: str,
        translator: Translator,
        glossary: GlossaryFile | None,
    ) -> None:
        self._deps, self._ctx, self._lang, self._translator = deps, ctx, lang, translator
        self.glossary = glossary
        self.results: list[UpstreamTranslation] = []
        self.packed_saved = 0  # agent calls packing avoided: a packed call of n texts saves n - 1
        self._submitted: dict[str, str] = {}  # call key -> async id, this run

    async def translate(self, text: str, hint: str) -> str:
        """One text: in one call, or in chunks where it is longer than a call takes."""
        cfg = self._deps.config
        limit = cfg.chunk_chars if len(text) <= cfg.chunk_tokens else await self._chunk_chars(text)
        if len(text) <= limit:  # one chunk (the common case): no split to join
            return await self.call(text, hint)
        chunks = split_text(text, limit)
        parts = [await self.call(c.text, hint) for c in chunks]
        return join_chunks(chunks, parts)

    async def _chunk_chars(self, text: str) -> int:
        """`chunk_chars`, or less where the text is denser than `chunk_tokens` allows. (A text
        of no more characters than `chunk_tokens` is not counted: a token is at least a
        character in practice.)"""
        cfg = self._deps.config
        counted = await self._deps.estimator.count(self._translator, text)
        return chars_for_tokens(
            len(text), counted.tokens, max_tokens=cfg.chunk_tokens, max_chars=cfg.chunk_chars
        )

    async def call(self, text: str, hint: str) -> str:
        file_id = self.glossary.id if self.glossary is not None else None
        try:
            result = await self._submit_or_resume(file_id, text, hint)
        except UpstreamError as exc:
            if not exc.file_refused or file_id is None or self.glossary is None:
                raise
            fresh = await self.glossary.refresh(file_id)
            result = await self._submit_or_resume(fresh, text, hint)
        self.results.append(result)
        metrics = self._deps.metrics
        metrics.polls.observe(result.polls)
        metrics.tenant_usage(
            self._ctx.request.tenant_id,
            calls=result.attempts + result.polls,
            prompt=result.usage.prompt_tokens,
            completion=result.usage.completion_tokens,
            characters=len(text),
        )
        return result.text

    async def _submit_or_resume(
        self, file_id: str | None, text: str, hint: str
    ) -> UpstreamTranslation:
        req, lang, translator = self._ctx.request, self._lang, self._translator
        key = call_key(lang, file_id, req.strategy, hint, text)
        known = self._ctx.async_ids(lang).get(key) or self._submitted.get(key)
        if known:
            return await self._timed("async_result", translator.poll(known, glossary=file_id))
        upstream = UpstreamRequest(
            text=text,
            target_lang=lang,
            source_lang=req.source_lang,
            glossary=file_id,
            strategy=req.strategy,
            suggestion=hint or None,
        )
        submitted = await self._timed("agents", translator.submit(upstream))
        if isinstance(submitted, UpstreamTranslation):
            return submitted
        await self._save_async_id(key, submitted)
        polled = translator.poll(submitted.async_id, glossary=file_id)
        return await self._timed("async_result", polled)

    async def _save_async_id(self, key: str, task: UpstreamTask) -> None:
        self._submitted[key] = task.async_id
        store, job, lang = self._deps.store, self._ctx.job, self._lang
        saved = await self._deps.durable(
            "async id", lambda: store.save_async_id(job.id, lang, key, task.async_id, job.owner)
        )
        if not saved:  # another worker claimed the job: it runs it, this call is not ours
            raise LeaseLost("another worker holds the job's lease now")

    async def _timed(self, route: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call
        except UpstreamError as exc:
            outcome = exc.error_code
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics = self._deps.metrics
            child(metrics.upstream_calls, route, outcome).inc()
            child(metrics.upstream_latency, route, outcome).observe(elapsed)


def call_key(lang: str, file_id: str | None, strategy: str, hint: str, text: str) -> str:
    """Identifies one upstream call by exactly what it sends (stable across restarts)."""
    raw = "\x1f".join([lang, file_id or "", strategy, hint, text])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]
