"""A run's segments: their memory keys, and each one's translation and QA report as it is
settled, from the memory, from another run translating it right now, or from a call.

Memory helps only once a translation is stored, so a run that needs a key another run of the
worker is translating waits for that call instead of paying for it again (`InFlight`), and a
segment repeated within the request is translated once and copied. Only clean translations are
shared or remembered: a reused one skips every check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from service.l10n import qa
from service.metrics import Metrics
from service.pipeline.ports import Remembered
from service.pipeline.translation.context import JobContext
from service.pipeline.translation.memory import InFlight, memory_key

#: Keys another run is translating, with the future to wait for and the segments it serves.
Waits = dict[str, tuple["asyncio.Future[str | None]", list[int]]]


class Segments:
    __slots__ = ("_ctx", "_lang", "_metrics", "fresh", "hits", "keys", "reports", "texts")

    def __init__(self, ctx: JobContext, lang: str, metrics: Metrics) -> None:
        self._ctx, self._lang, self._metrics = ctx, lang, metrics
        req, g = ctx.request, ctx.glossary
        self.keys = [
            memory_key(
                tenant_id=req.tenant_id,
                text=text,
                source_lang=req.source_lang,
                target_lang=lang,
                glossary_hash=g.content_hash if g else None,
                strategy=req.strategy,
                instructions=req.instructions,
            )
            for _, text in ctx.sources
        ]
        self.texts: list[str | None] = [None] * len(self.keys)  # None: failed (or not yet)
        self.reports: dict[int, qa.SegmentQA] = {}
        self.fresh: dict[str, str] = {}  # clean translations made by this run, by key
        self.hits = 0  # segments served by the memory or by another run

    def put(self, i: int, text: str | None, report: qa.SegmentQA) -> None:
        self.texts[i], self.reports[i] = text, report

    def recalled(self, remembered: Mapping[str, str]) -> list[int]:
        """Settle the segments the memory knows; returns the others, in order."""
        todo = []
        for i, key in enumerate(self.keys):
            if key in remembered:
                self.reuse(i, remembered[key])
            else:
                todo.append(i)
        return todo

    def reuse(self, i: int, target: str) -> None:
        self.put(i, target, _reused_qa(i, self._ctx.sources[i][1], target))
        self.hits += 1
        self._metrics.memory_hits.inc()

    def share(self, todo: Sequence[int], inflight: InFlight) -> tuple[dict[str, list[int]], Waits]:
        """Segments by key: keys this run translates (and must settle in `inflight`), and keys
        another run is translating already."""
        groups: dict[str, list[int]] = {}
        for i in todo:
            groups.setdefault(self.keys[i], []).append(i)
        mine: dict[str, list[int]] = {}
        waits: Waits = {}
        for key, indices in groups.items():
            pending = inflight.claim(key)
            if pending is None:
                mine[key] = indices
            else:
                waits[key] = (pending, indices)
        return mine, waits

    async def take_shared(self, waits: Waits) -> dict[str, list[int]]:
        """The other runs' translations; returns the keys they had none for."""
        leftover: dict[str, list[int]] = {}
        for key, (pending, indices) in waits.items():
            target = await asyncio.shield(pending)
            if target is None:
                leftover[key] = indices
                continue
            for i in indices:
                self.reuse(i, target)
        return leftover

    def in_order(self) -> list[qa.SegmentQA]:
        return [self.reports[i] for i in range(len(self.keys))]

    def take_fresh(self) -> dict[str, Remembered]:
        """This run's clean translations as memory entries, for the job's completion (once)."""
        fresh, self.fresh = self.fresh, {}
        if not fresh:
            return {}
        req, g, sources = self._ctx.request, self._ctx.glossary, self._ctx.sources
        where = {key: i for i, key in enumerate(self.keys)}  # a repeated key: its last segment
        return {
            key: Remembered(
                target,
                sources[where[key]][1],
                req.source_lang,
                self._lang,
                g.glossary_id if g else None,
                g.version if g else None,
            )
            for key, target in fresh.items()
        }


def _reused_qa(index: int, source: str, target: str) -> qa.SegmentQA:
    """A translation reused from memory or from a concurrent run: checked when first made."""
    return qa.segment_report(
        index,
        source=source,
        target=target,
        placeholders=qa.PlaceholderQA(),
        glossary=qa.GlossaryQA(),
        extra_codes=[qa.QaCode.memory_hit],
    )
