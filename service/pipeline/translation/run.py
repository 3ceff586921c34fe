"""One run of one job in one target language, with the localization checks around each call.

Glossary file (upload cache) → translation memory, and the translations under way in this
worker (`segments.py`) → plan each segment (mask placeholders, split ICU messages, find glossary
terms) → the calls of an attempt, packed or chunked (`batches.py`, `calls.py`) → restore and
check every segment → retry once what failed its checks, one call per segment with a stricter
instruction → the outcome event with a QA report (`outcome.py`). The run's new memory entries
go back to its caller, which writes them with the job's completion.
"""

from __future__ import annotations

import time
from collections import defaultdict

from service.errors import FailureCode, UpstreamError
from service.l10n import qa
from service.l10n.compliance import Decision
from service.l10n.segment import SegmentPlan, SegmentResult, finish_segment, plan_segment
from service.metrics import child
from service.pipeline.contract.outcomes import Outcome, failed
from service.pipeline.ports import PairKey, Remembered, Translator
from service.pipeline.translation.batches import Attempt
from service.pipeline.translation.calls import GlossaryFile, UpstreamCalls
from service.pipeline.translation.context import JobContext
from service.pipeline.translation.deps import RunConfig, RunDeps
from service.pipeline.translation.outcome import outcome
from service.pipeline.translation.segments import Segments


class LanguageRun:
    __slots__ = ("calls", "ctx", "deps", "lang", "segments", "started")

    def __init__(self, ctx: JobContext, lang: str, deps: RunDeps, translator: Translator) -> None:
        self.ctx, self.lang, self.deps = ctx, lang, deps
        glossary, g = None, ctx.glossary
        if g is not None:
            key = PairKey(translator.key_fingerprint, g.version_id, g.source_lang, lang)
            glossary = GlossaryFile(deps, translator, key, ctx.document)
        self.calls = UpstreamCalls(deps, ctx, lang, translator, glossary)
        self.segments = Segments(ctx, lang, deps.metrics)
        self.started = time.time()

    async def run(self) -> tuple[Outcome, dict[str, Remembered]]:
        """The language's outcome, and its new memory entries (for the job's completion)."""
        try:
            if self.calls.glossary is not None:
                await self.calls.glossary.ensure()
            await self._localize()
        except UpstreamError as exc:
            code, req = FailureCode.of(exc.error_code), self.ctx.request
            return failed(req, self.lang, code, exc.message, exc.retryable, exc.code), {}
        report = qa.build_report(self.segments.in_order())
        for name, count in qa.metric_counts(report).items():
            child(self.deps.metrics.qa, name).inc(count)
        done = outcome(self.ctx, self.lang, self.segments, report, self.calls, self.started)
        return done, self.segments.take_fresh()

    async def _localize(self) -> None:
        """Memory first; a segment another run is translating right now is waited for; the
        rest is translated once per distinct key (a repeat in the request is copied)."""
        segments, memory, keys = self.segments, self.deps.memory, self.segments.keys
        remembered = await self.deps.durable("memory", lambda: memory.recall(keys))
        self.deps.metrics.memory_lookups.inc(len(keys))
        mine, waits = segments.share(segments.recalled(remembered), self.deps.inflight)
        fresh = await self._translate_shared(mine)
        leftover = await segments.take_shared(waits)
        if leftover:  # what the other run could not give us
            fresh |= await self._translate(leftover)
        segments.fresh = fresh

    async def _translate_shared(self, mine: dict[str, list[int]]) -> dict[str, str]:
        """Translate keys this run claimed, and share the outcome with runs waiting for them
        (None if unusable or if this run fails)."""
        fresh: dict[str, str] = {}
        try:
            fresh = await self._translate(mine)
        finally:
            for key in mine:
                self.deps.inflight.settle(key, fresh.get(key))
        return fresh

    async def _translate(self, groups: dict[str, list[int]]) -> dict[str, str]:
        """One translation per key (its first segment), copied to the key's other segments;
        returns the clean ones, to remember."""
        if not groups:
            return {}
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
            self.segments.put(first, result.text, result.qa)
            for i in copies:
                self.segments.put(i, result.text, result.qa.model_copy(update={"index": i}))
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
        req = self.ctx.request
        calls = Attempt(
            self.deps, self.calls, req.tenant_id, self.lang, req.instructions, plans, hints
        )
        await calls.run()
        by_segment: dict[int, list[str]] = defaultdict(list)
        for (i, _), text in zip(calls.flat, calls.out, strict=True):
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
                notes=calls.notes.get(i, ()),
            )
            for i, plan in plans.items()
        }


__all__ = ["LanguageRun", "RunConfig", "RunDeps"]
