"""The calls of one attempt at a run's texts.

A first attempt packs short texts into few agent calls (`service.l10n.packing`); a packed reply
that lost its markers is tried again by halves, so one troublesome text costs about 2·log2(n)
more calls rather than n. When packing keeps failing for a tenant and language, the breaker
(`packing_breaker.py`) pauses it there. A retry sends one text per call.

The calls of an attempt run in a TaskGroup: when one fails for good, the others are cancelled
at once and a waiting one does not start, so nothing more is sent (and billed) for a language
that has already failed.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from service.l10n import qa
from service.l10n.packing import PACKING_INSTRUCTION, Batch, halves, pack, unpack
from service.l10n.segment import SegmentPlan
from service.l10n.segment import suggestion_for as glossary_suggestion
from service.pipeline.translation.calls import UpstreamCalls
from service.pipeline.translation.deps import RunDeps


class Attempt:
    """Where each text's translation goes (`out`, by position in `flat`), and QA notes."""

    __slots__ = (
        "_calls",
        "_deps",
        "_failed",
        "_gate",
        "_hints",
        "_instructions",
        "_lang",
        "_plans",
        "_tenant",
        "flat",
        "notes",
        "out",
    )

    def __init__(
        self,
        deps: RunDeps,
        calls: UpstreamCalls,
        tenant: str,
        lang: str,
        instructions: str | None,
        plans: dict[int, SegmentPlan],
        hints: dict[int, str] | None,
    ) -> None:
        self._deps, self._calls, self._instructions = deps, calls, instructions
        self._tenant, self._lang = tenant, lang  # the packing breaker's lane
        self._plans, self._hints = plans, hints
        self.flat = [(i, t) for i, plan in plans.items() for t in plan.texts]  # (segment, text)
        self.out = [""] * len(self.flat)
        self.notes: dict[int, list[qa.QaCode]] = defaultdict(list)
        self._gate = asyncio.Semaphore(deps.config.call_concurrency)
        self._failed = False

    async def run(self) -> None:
        """Translate every text: packed on a first attempt (no hints), one by one on a retry."""
        texts = [t for _, t in self.flat]
        cfg = self._deps.config
        if self._hints is None and cfg.packing and self._may_pack():
            batches = pack(texts, max_chars=cfg.chunk_chars)
        else:
            batches = [Batch((k,), text) for k, text in enumerate(texts)]
        if len(batches) == 1:  # one call: no group to cancel it by (the common case)
            await self._run_batch(batches[0])
            return
        try:
            async with asyncio.TaskGroup() as group:
                for batch in batches:
                    group.create_task(self._run_batch(batch))
        except BaseExceptionGroup as errors:
            raise first_error(errors) from None

    async def _run_batch(self, batch: Batch) -> None:
        async with self._gate:
            if self._failed:  # a sibling failed while this one waited for its turn
                return
            try:
                await self._translate(batch)
            except BaseException:
                # Flagged before the gate opens, so no waiting sibling starts a call.
                self._failed = True
                raise

    async def _translate(self, batch: Batch, *, split: bool = False) -> None:
        if not batch.packed:
            await self._alone(batch.indices[0], split=split)
        elif not self._may_pack():  # paused, maybe by a sibling batch: one text per call
            for k in batch.indices:
                await self._alone(k, split=split)
        elif not await self._packed(batch):
            for half in halves(batch, [text for _, text in self.flat]):
                await self._translate(half, split=True)

    async def _packed(self, batch: Batch) -> bool:
        """One packed call; False (and QA notes) if its markers did not come back."""
        reply = await self._calls.call(batch.text, self._suggestion(batch.indices, True))
        parts = unpack(reply, batch)
        self._packed_outcome(batch, markers_kept=parts is not None)
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
            self._deps.metrics.packing.labels("single").inc()
        self.out[k] = await self._calls.translate(self.flat[k][1], self._suggestion([k], False))

    def _may_pack(self) -> bool:
        if self._deps.packing.allows(self._tenant, self._lang):
            return True
        self._deps.metrics.packing.labels("paused").inc()
        return False

    def _packed_outcome(self, batch: Batch, *, markers_kept: bool) -> None:
        """Count one packed call, for the metric, the breaker and the usage."""
        if markers_kept:
            self._calls.packed_saved += len(batch.indices) - 1
        self._deps.packing.record(self._tenant, self._lang, markers_kept=markers_kept)
        self._deps.metrics.packing.labels("packed_ok" if markers_kept else "split").inc()

    def _suggestion(self, indices: Sequence[int], packed: bool) -> str:
        segs = list(dict.fromkeys(self.flat[k][0] for k in indices))
        parts = [
            self._instructions or "",
            PACKING_INSTRUCTION if packed else "",
            glossary_suggestion([self._plans[i] for i in segs]),
            *((self._hints or {}).get(i, "") for i in segs),
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
