"""One run of one job in one target language, with the localization checks around each call.

Glossary file (upload cache) → translation memory → plan each segment (mask placeholders, split
ICU messages, find glossary terms) → pack short texts into few agent calls (split long ones into
chunks) → restore and check every segment → retry once what failed its checks, one call per
segment with a stricter instruction → the outcome event with a QA report.

The calls of one attempt run in a TaskGroup: when one fails for good, the others are cancelled
at once, so nothing more is sent (and billed) for a language that has already failed.

Each upstream call has a key (a hash of exactly what is sent); the async id Z.ai hands back is
stored under it before polling, so a restarted worker resumes the poll instead of submitting
again. It is stored only while this worker holds the job's lease: a worker that took the job
over read its ids when it claimed, so a later one would be lost to it; the run ends with
`LeaseLost` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from service.errors import FailureCode, LeaseLost
from service.l10n import qa
from service.l10n.compliance import Decision
from service.l10n.packing import PACKING_INSTRUCTION, Batch, halves, pack, unpack
from service.l10n.segment import SegmentPlan, SegmentResult, finish_segment, plan_segment
from service.l10n.segment import suggestion_for as glossary_suggestion
from service.metrics import Metrics, child
from service.pipeline.chunking import chars_for_tokens, join_chunks, split_text
from service.pipeline.contracts import (
    ResourceFile,
    Timings,
    TranslatedSegment,
    TranslationCompletedV1,
    UsageV1,
)
from service.pipeline.durable import Durable
from service.pipeline.estimate import TokenEstimator
from service.pipeline.events import event_id
from service.pipeline.job_context import JobContext
from service.pipeline.memory import InFlight, memory_key
from service.pipeline.outcomes import Outcome, failed
from service.pipeline.packing_breaker import PackingBreaker
from service.pipeline.ports import (
    GlossaryFiles,
    JobStore,
    Memory,
    PairKey,
    Remembered,
    Translator,
)
from service.zai import PendingTask, TranslateRequest, Translation, ZaiError, ZaiFileNotFound

T = TypeVar("T")


@dataclass(frozen=True)
class RunConfig:
    chunk_chars: int = 3000
    chunk_tokens: int = 1500  # a longer text is split by tokens (Z.ai's count), see `chunked`
    packing: bool = True
    call_concurrency: int = 8  # upstream calls at once for one language


@dataclass(frozen=True)
class RunDeps:
    """What every run needs from outside; one instance per worker."""

    store: JobStore
    memory: Memory
    files: GlossaryFiles
    metrics: Metrics
    durable: Durable
    config: RunConfig = RunConfig()
    packing: PackingBreaker = field(default_factory=PackingBreaker)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    inflight: InFlight = field(default_factory=InFlight)  # shared by the worker's runs


@dataclass
class _Localized:
    texts: list[str | None]
    qa: list[qa.SegmentQA]


@dataclass
class LanguageRun:
    ctx: JobContext
    lang: str
    deps: RunDeps
    translator: Translator
    file_id: str | None = None
    calls: list[Translation] = field(default_factory=list)
    memory_hits: int = 0
    packed_saved: int = 0  # agent calls packing avoided: a packed call of n texts saves n - 1
    submitted: dict[str, str] = field(default_factory=dict)  # call key -> async id, this run
    started: float = field(default_factory=time.time)
    # True: the run's memory entries wait for `remember()`, so its caller can give up the
    # job's slot first (the memory is a cache; a crash before the write only costs a call).
    defer_memory: bool = False
    fresh: dict[str, str] = field(default_factory=dict)  # memory entries not written yet
    sources: dict[str, str] = field(default_factory=dict)  # memory key -> source text

    async def run(self) -> Outcome:
        try:
            self.file_id = await self._glossary_file()
            done = await self._localize()
        except ZaiError as exc:
            code = FailureCode.of(exc.error_code)
            return failed(self.ctx.request, self.lang, code, exc.message, exc.retryable, exc.code)
        report = qa.build_report(done.qa)
        for name, count in qa.metric_counts(report).items():
            child(self.deps.metrics.qa, name).inc(count)
        return self._assemble(done, report)

    # --- glossary file -----------------------------------------------------------------

    def _pair(self) -> PairKey:
        g = self.ctx.glossary
        assert g is not None
        return PairKey(self.translator.key_fingerprint, g.version_id, g.source_lang, self.lang)

    async def _glossary_file(self) -> str | None:
        if self.ctx.glossary is None:
            return None
        key, files = self._pair(), self.deps.files
        return await self.deps.durable(
            "glossary file", lambda: files.ensure(self.translator, key, self.ctx.document)
        )

    async def _fresh_glossary_file(self, stale: str) -> str | None:
        """Z.ai forgot the glossary file (expired or deleted): upload it again."""
        key, files = self._pair(), self.deps.files
        await self.deps.durable("glossary file", lambda: files.invalidate(key, stale))
        self.file_id = await self._glossary_file()
        return self.file_id

    # --- segments ----------------------------------------------------------------------

    async def _localize(self) -> _Localized:
        """Memory first; a segment another run is translating right now is waited for; the
        rest is translated once per distinct key (a repeat in the request is copied)."""
        sources, memory = self.ctx.sources, self.deps.memory
        keys = [self._memory_key(text) for _, text in sources]
        self.sources = {key: text for key, (_, text) in zip(keys, sources, strict=True)}
        remembered = await self.deps.durable("memory", lambda: memory.recall(keys))
        self.deps.metrics.memory_lookups.inc(len(keys))
        done = _Done(len(sources))
        for i, key in enumerate(keys):
            if key in remembered:
                self._reuse(done, i, remembered[key])
        todo = [i for i in range(len(sources)) if i not in done.reports]
        mine, waits = _share(todo, keys, self.deps.inflight)
        fresh = await self._translate_shared(mine, done)
        leftover = await self._take_shared(waits, done)
        if leftover:  # what the other run could not give us
            fresh |= await self._translate(leftover, done)
        self.fresh = fresh
        if not self.defer_memory:
            await self.remember()
        return _Localized(done.texts, [done.reports[i] for i in range(len(sources))])

    def take_fresh(self) -> dict[str, Remembered]:
        """This run's clean translations as memory entries, to be stored by the caller (once)."""
        fresh, self.fresh = self.fresh, {}
        return {key: self._remembered(key, text) for key, text in fresh.items()}

    async def remember(self) -> None:
        """Store this run's clean translations in the memory (once)."""
        entries = self.take_fresh()
        if entries:
            memory, tenant = self.deps.memory, self.ctx.request.tenant_id
            await self.deps.durable("memory", lambda: memory.remember(tenant, entries))

    def _remembered(self, key: str, target: str) -> Remembered:
        req, g = self.ctx.request, self.ctx.glossary
        return Remembered(
            target,
            self.sources.get(key, ""),
            req.source_lang,
            self.lang,
            g.glossary_id if g else None,
            g.version if g else None,
        )

    def _reuse(self, done: _Done, i: int, target: str) -> None:
        done.put(i, target, _memory_qa(i, self.ctx.sources[i][1], target))
        self.memory_hits += 1
        self.deps.metrics.memory_hits.inc()

    async def _translate_shared(self, mine: dict[str, list[int]], done: _Done) -> dict[str, str]:
        """Translate keys this run claimed, and share the outcome with runs waiting for them
        (None if unusable or if this run fails)."""
        fresh: dict[str, str] = {}
        try:
            fresh = await self._translate(mine, done)
        finally:
            for key in mine:
                self.deps.inflight.settle(key, fresh.get(key))
        return fresh

    async def _take_shared(
        self, waits: dict[str, tuple[asyncio.Future[str | None], list[int]]], done: _Done
    ) -> dict[str, list[int]]:
        """The other runs' translations; returns the keys they had none for."""
        leftover: dict[str, list[int]] = {}
        for key, (pending, indices) in waits.items():
            target = await asyncio.shield(pending)
            if target is None:
                leftover[key] = indices
                continue
            for i in indices:
                self._reuse(done, i, target)
        return leftover

    async def _translate(self, groups: dict[str, list[int]], done: _Done) -> dict[str, str]:
        """One translation per key (its first segment), copied to the key's other segments;
        returns the clean ones, to remember. Only clean translations are remembered or shared:
        a reused one skips every check."""
        sources, glossary = self.ctx.sources, await self.ctx.glossary_context()
        plans = {
            first: plan_segment(first, sources[first][1], target_lang=self.lang, glossary=glossary)
            for first, *_ in groups.values()
        }
        results = await self._attempt(plans, attempt=1)
        again = {i: plans[i] for i, r in results.items() if r.decision is Decision.retry}
        if again:
            hints = {i: results[i].retry_instruction for i in again}
            results |= await self._attempt(again, attempt=2, hints=hints)
        fresh: dict[str, str] = {}
        for key, (first, *copies) in groups.items():
            result = results[first]
            done.put(first, result.text, result.qa)
            for i in copies:
                done.put(i, result.text, result.qa.model_copy(update={"index": i}))
            if result.text is not None and result.qa.status == "ok":
                fresh[key] = result.text
        return fresh

    async def _attempt(
        self,
        plans: dict[int, SegmentPlan],
        *,
        attempt: int,
        hints: dict[int, str] | None = None,
    ) -> dict[int, SegmentResult]:
        flat = [(i, t) for i, plan in plans.items() for t in plan.texts]
        out, notes = await self._translate_all(flat, plans, hints)
        by_segment: dict[int, list[str]] = defaultdict(list)
        for (i, _), text in zip(flat, out, strict=True):
            by_segment[i].append(text)
        glossary = await self.ctx.glossary_context()
        return {
            i: finish_segment(
                plan,
                by_segment.get(i, []),
                target_lang=self.lang,
                glossary=glossary,
                policy=self.ctx.policy,
                attempt=attempt,
                notes=notes.get(i, ()),
            )
            for i, plan in plans.items()
        }

    async def _translate_all(
        self,
        flat: Sequence[tuple[int, str]],
        plans: dict[int, SegmentPlan],
        hints: dict[int, str] | None,
    ) -> tuple[list[str], dict[int, list[qa.QaCode]]]:
        """Translate every text: packed into few calls on a first attempt, one by one on a retry.
        The first call that fails for good cancels the others (TaskGroup)."""
        texts = [t for _, t in flat]
        cfg = self.deps.config
        if hints is None and cfg.packing and self.may_pack():
            batches = pack(texts, max_chars=cfg.chunk_chars)
        else:
            batches = [Batch((k,), text) for k, text in enumerate(texts)]
        batch_run = _BatchRun(self, flat, plans, hints, asyncio.Semaphore(cfg.call_concurrency))
        if len(batches) == 1:  # one call: no group to cancel it by (the common case)
            await batch_run.run_batch(batches[0])
            return batch_run.out, batch_run.notes
        try:
            async with asyncio.TaskGroup() as group:
                for batch in batches:
                    group.create_task(batch_run.run_batch(batch))
        except BaseExceptionGroup as errors:
            raise first_error(errors) from None
        return batch_run.out, batch_run.notes

    def may_pack(self) -> bool:
        if self.deps.packing.allows(self.ctx.request.tenant_id, self.lang):
            return True
        self.deps.metrics.packing.labels("paused").inc()
        return False

    def packed_outcome(self, batch: Batch, *, markers_kept: bool) -> None:
        """Count one packed call, for the metric, the breaker and the usage."""
        if markers_kept:
            self.packed_saved += len(batch.indices) - 1
        self.deps.packing.record(self.ctx.request.tenant_id, self.lang, markers_kept=markers_kept)
        self.deps.metrics.packing.labels("packed_ok" if markers_kept else "split").inc()

    async def chunked(self, text: str, hint: str) -> str:
        chunks = split_text(text, await self._chunk_chars(text))
        parts = [await self.call(c.text, hint) for c in chunks]
        return join_chunks(chunks, parts)

    async def _chunk_chars(self, text: str) -> int:
        """`chunk_chars`, or less where the text is denser than `chunk_tokens` allows. A text of
        no more characters than `chunk_tokens` is not counted: a token is at least a character
        in practice."""
        cfg = self.deps.config
        if len(text) <= cfg.chunk_tokens:
            return cfg.chunk_chars
        counted = await self.deps.estimator.count(self.translator, text)
        return chars_for_tokens(
            len(text), counted.tokens, max_tokens=cfg.chunk_tokens, max_chars=cfg.chunk_chars
        )

    # --- upstream ----------------------------------------------------------------------

    async def call(self, text: str, hint: str) -> str:
        try:
            result = await self._submit_or_resume(self.file_id, text, hint)
        except ZaiFileNotFound:
            if self.file_id is None or self.ctx.glossary is None:
                raise
            fresh = await self._fresh_glossary_file(self.file_id)
            result = await self._submit_or_resume(fresh, text, hint)
        self.calls.append(result)
        metrics = self.deps.metrics
        metrics.polls.observe(result.polls)
        metrics.tenant_usage(
            self.ctx.request.tenant_id,
            calls=result.attempts + result.polls,
            prompt=result.usage.prompt_tokens,
            completion=result.usage.completion_tokens,
            characters=len(text),
        )
        return result.text

    async def _submit_or_resume(self, file_id: str | None, text: str, hint: str) -> Translation:
        req = self.ctx.request
        key = call_key(self.lang, file_id, req.strategy, hint, text)
        known = self.ctx.async_ids(self.lang).get(key) or self.submitted.get(key)
        if known:
            return await self._timed("async_result", self.translator.poll(known, glossary=file_id))
        upstream = TranslateRequest(
            text=text,
            target_lang=self.lang,
            source_lang=req.source_lang,
            glossary=file_id,
            strategy=req.strategy,
            suggestion=hint or None,
        )
        submitted = await self._timed("agents", self.translator.submit(upstream))
        if isinstance(submitted, Translation):
            return submitted
        await self._save_async_id(key, submitted)
        polled = self.translator.poll(submitted.async_id, glossary=file_id)
        return await self._timed("async_result", polled)

    async def _save_async_id(self, key: str, task: PendingTask) -> None:
        self.submitted[key] = task.async_id
        store, job = self.deps.store, self.ctx.job
        saved = await self.deps.durable(
            "async id",
            lambda: store.save_async_id(job.id, self.lang, key, task.async_id, job.owner),
        )
        if not saved:  # another worker claimed the job: it runs it, this call is not ours
            raise LeaseLost("another worker holds the job's lease now")

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
            child(self.deps.metrics.upstream_calls, route, outcome).inc()
            child(self.deps.metrics.upstream_latency, route, outcome).observe(elapsed)

    def _memory_key(self, text: str) -> str:
        req, g = self.ctx.request, self.ctx.glossary
        return memory_key(
            tenant_id=req.tenant_id,
            text=text,
            source_lang=req.source_lang,
            target_lang=self.lang,
            glossary_hash=g.content_hash if g else None,
            strategy=req.strategy,
            instructions=req.instructions,
        )

    # --- outcome -----------------------------------------------------------------------

    def _assemble(self, done: _Localized, report: qa.QaReport) -> Outcome:
        req, ctx = self.ctx.request, self.ctx
        ids = [uid for uid, _ in ctx.sources]
        failed_ids = [uid for uid, text in zip(ids, done.texts, strict=True) if text is None]
        if failed_ids and len(failed_ids) == len(ids):
            codes = sorted(
                {c.value for s in report.segments for c in s.codes if c in qa.FAILURE_CODES}
            )
            message = f"every segment failed its checks: {', '.join(codes) or 'unknown'}"
            return failed(req, self.lang, FailureCode.qa_failed, message, retryable=True)
        segments = None
        if req.segments is not None:
            pairs = zip(req.segments, done.texts, strict=True)
            segments = [TranslatedSegment(id=s.id, text=t) for s, t in pairs]
        return TranslationCompletedV1(
            event_id=event_id(req.tenant_id, req.request_id, self.lang),
            request_id=req.request_id,
            tenant_id=req.tenant_id,
            source_lang=req.source_lang,
            target_lang=self.lang,
            text=done.texts[0] if req.text is not None else None,
            segments=segments,
            file=self._merged(ids, done.texts),
            failed_segments=failed_ids,
            glossary_id=ctx.glossary.glossary_id if ctx.glossary else None,
            glossary_version=ctx.glossary.version if ctx.glossary else None,
            strategy=req.strategy,
            usage=self._usage(),
            timings=self._timings(),
            qa=report,
            metadata=req.metadata,
        )

    def _merged(self, ids: list[str], texts: list[str | None]) -> ResourceFile | None:
        file, req = self.ctx.file, self.ctx.request
        if file is None or req.file is None:
            return None
        done = {uid: t for uid, t in zip(ids, texts, strict=True) if t is not None}
        return file.merged(done, self.lang, req.file.filename)

    def _usage(self) -> UsageV1:
        calls, held = self.calls, self.ctx.estimate
        return UsageV1(
            prompt_tokens=sum(r.usage.prompt_tokens for r in calls),
            completion_tokens=sum(r.usage.completion_tokens for r in calls),
            total_tokens=sum(r.usage.total_tokens for r in calls),
            upstream_calls=sum(r.attempts + r.polls for r in calls),
            memory_hits=self.memory_hits,
            source_chars=sum(len(text) for _, text in self.ctx.sources),
            packed_calls_saved=self.packed_saved,
            estimated_tokens=held.per_language if held else 0,
            estimate=held.method if held else None,
        )

    def _timings(self) -> Timings:
        now, created = time.time(), self.ctx.job.created_at.timestamp()
        return Timings(
            queued_ms=max(0, int((self.started - created) * 1000)),
            upstream_ms=int((now - self.started) * 1000),
            total_ms=max(0, int((now - created) * 1000)),
        )


@dataclass
class _Done:
    """Each segment's translation (None: failed) and QA report, as they are settled."""

    size: int
    texts: list[str | None] = field(init=False)
    reports: dict[int, qa.SegmentQA] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.texts = [None] * self.size

    def put(self, i: int, text: str | None, report: qa.SegmentQA) -> None:
        self.texts[i], self.reports[i] = text, report


def _share(
    todo: Sequence[int], keys: Sequence[str], inflight: InFlight
) -> tuple[dict[str, list[int]], dict[str, tuple[asyncio.Future[str | None], list[int]]]]:
    """Segments by key: keys this run translates (and settles), and keys another run is
    translating already, with the future to wait for."""
    groups: dict[str, list[int]] = {}
    for i in todo:
        groups.setdefault(keys[i], []).append(i)
    mine: dict[str, list[int]] = {}
    waits: dict[str, tuple[asyncio.Future[str | None], list[int]]] = {}
    for key, indices in groups.items():
        pending = inflight.claim(key)
        if pending is None:
            mine[key] = indices
        else:
            waits[key] = (pending, indices)
    return mine, waits


@dataclass
class _BatchRun:
    """The calls of one attempt: where each batch's translation goes, and QA notes."""

    run: LanguageRun
    flat: Sequence[tuple[int, str]]
    plans: dict[int, SegmentPlan]
    hints: dict[int, str] | None
    gate: asyncio.Semaphore
    out: list[str] = field(init=False)
    notes: dict[int, list[qa.QaCode]] = field(default_factory=lambda: defaultdict(list))
    failed: bool = False

    def __post_init__(self) -> None:
        self.out = [""] * len(self.flat)

    async def run_batch(self, batch: Batch) -> None:
        async with self.gate:
            if self.failed:  # a sibling failed while this one waited for its turn
                return
            try:
                await self._translate(batch)
            except BaseException:
                # Flagged before the gate opens, so no waiting sibling starts a call.
                self.failed = True
                raise

    async def _translate(self, batch: Batch, *, split: bool = False) -> None:
        if not batch.packed:
            await self._alone(batch.indices[0], split=split)
        elif not self.run.may_pack():  # paused, maybe by a sibling batch: one text per call
            for k in batch.indices:
                await self._alone(k, split=split)
        elif not await self._packed(batch):
            # Markers lost: try each half again (packed while more than one text is left), so
            # one troublesome text costs about 2·log2(n) more calls rather than n.
            for half in halves(batch, [text for _, text in self.flat]):
                await self._translate(half, split=True)

    async def _packed(self, batch: Batch) -> bool:
        """One packed call; False (and QA notes) if its markers did not come back."""
        reply = await self.run.call(batch.text, self._suggestion(batch.indices, True))
        parts = unpack(reply, batch)
        self.run.packed_outcome(batch, markers_kept=parts is not None)
        if parts is not None:
            for k, part in zip(batch.indices, parts, strict=True):
                self.out[k] = part
            return True
        for k in batch.indices:
            notes = self.notes[self.flat[k][0]]
            if qa.QaCode.packing_failed not in notes:
                notes.append(qa.QaCode.packing_failed)
        return False

    async def _alone(self, k: int, *, split: bool) -> None:
        if split:
            self.run.deps.metrics.packing.labels("single").inc()
        self.out[k] = await self.run.chunked(self.flat[k][1], self._suggestion([k], False))

    def _suggestion(self, indices: Sequence[int], packed: bool) -> str:
        segs = list(dict.fromkeys(self.flat[k][0] for k in indices))
        parts = [
            self.run.ctx.request.instructions or "",
            PACKING_INSTRUCTION if packed else "",
            glossary_suggestion([self.plans[i] for i in segs]),
            *((self.hints or {}).get(i, "") for i in segs),
        ]
        return "\n".join(p for p in parts if p)


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real failure in a (possibly nested) exception group."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def call_key(lang: str, file_id: str | None, strategy: str, hint: str, text: str) -> str:
    """Identifies one upstream call by exactly what it sends (stable across restarts)."""
    raw = "\x1f".join([lang, file_id or "", strategy, hint, text])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _memory_qa(index: int, source: str, target: str) -> qa.SegmentQA:
    """A translation reused from memory or from a concurrent run: checked when first made."""
    return qa.segment_report(
        index,
        source=source,
        target=target,
        placeholders=qa.PlaceholderQA(),
        glossary=qa.GlossaryQA(),
        extra_codes=[qa.QaCode.memory_hit],
    )
