"""The worker's write transaction: what its jobs write once their upstream work is done.

Completions arriving together, the memory entries of their runs and the relay's "sent" marks
share one transaction (group commit, `service.store.group_commit`): while one flush is being
written the next gathers, so the busier the worker, the more each transaction carries, and an
idle one writes at once. Its statements, in this order (docs/pipeline.md, "Which statement
carries which"):

1. the relay's marks: `UPDATE outbox_event SET sent_at` of rows it delivered since the last
   flush. Marks never start a flush; one is written alone after `lazy` seconds without one.
   Lost in a crash, they cost a second delivery, which consumers drop by `ce_id`.
2. memory: `INSERT … ON CONFLICT (key) DO NOTHING`, the first translation of a key stays.
3. the jobs done: `UPDATE job … RETURNING id`, only where the completion's owner still holds
   the lease (per owner); what follows is written for those jobs alone.
4. their fresh outcomes: `UPDATE job_target` of languages still pending.
5. usage: the reservations released, the ledger added to (service.store.usage).
6. their events into the outbox, claimed for this worker's relay, and handed to it after the
   commit (the ids come back from `RETURNING`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from service.errors import StoreUnavailable
from service.pipeline.ports import Completion, PendingEvent, Remembered
from service.store import usage
from service.store.driver import Database, Dialect, Script, fetch, fetch_each, many
from service.store.group_commit import GroupCommit
from service.store.outbox import (
    CLAIM,
    INSERT_RETURNING_ID,
    Handoff,
    headers_of,
    mark_sent_script,
    row_values,
)
from service.store.tables import utcnow

logger = logging.getLogger(__name__)

REMEMBER = (
    "INSERT INTO translation_memory (key, tenant_id, target_text, source_text, source_lang,"
    " target_lang, glossary_id, glossary_version, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
)
SET_OUTCOME = (
    "UPDATE job_target SET state = ?, outcome = ?, updated_at = ?"
    " WHERE job_id = ? AND target_lang = ? AND state = 'pending'"
)


@dataclass(frozen=True)
class Remember:
    """Memory entries written on their own (a run that does not wait for its job's end)."""

    tenant_id: str
    entries: Mapping[str, Remembered]


Item = Completion | Remember | None  # None: a flush for the marks alone


class WriteBatch:
    def __init__(
        self,
        db: Database,
        *,
        handoff: Handoff | None = None,
        claim: timedelta = CLAIM,
        lazy: float = 0.5,
        window: float = 0.0,
    ) -> None:
        self._db, self._handoff, self._claim, self._lazy = db, handoff, claim, lazy
        self._group: GroupCommit[Item, bool] = GroupCommit(self._flush, window=window)
        self._marks: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._alone: asyncio.Task[None] | None = None

    def hand_to(self, handoff: Handoff) -> None:
        """From now on completions' rows are written claimed for `handoff`, the local relay."""
        self._handoff = handoff

    async def complete(self, completion: Completion) -> bool:
        """Written (True) or not held by its owner any more (False: nothing of it written
        but its memory entries, which do not depend on who finishes the job)."""
        return await self._group.submit(completion)

    async def remember(self, tenant_id: str, entries: Mapping[str, Remembered]) -> None:
        if entries:
            await self._group.submit(Remember(tenant_id, entries))

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Rows the relay delivered: marked sent with the next flush (within `lazy` s)."""
        self._marks.extend(ids)
        if self._marks and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._lazy, self._marks_alone)

    async def flush(self) -> None:
        """The marks waiting written now (with whatever else is being written)."""
        if self._marks:
            await self._group.submit(None)

    async def close(self, grace: float = 5.0) -> None:
        """Write the marks still waiting (for at most `grace` s: with the database gone, their
        rows are delivered once more by the next relay)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._marks:
            try:
                async with asyncio.timeout(grace):
                    await self._group.submit(None)
            except (TimeoutError, StoreUnavailable):
                logger.warning("outbox marks not written", extra={"rows": len(self._marks)})

    def _marks_alone(self) -> None:
        self._timer = None
        if self._marks and (self._alone is None or self._alone.done()):
            self._alone = asyncio.create_task(self._write_marks(), name="outbox-marks")

    async def _write_marks(self) -> None:
        try:
            await self._group.submit(None)
        except StoreUnavailable:
            self.mark_sent([])  # kept: tried again after `lazy` s
        except Exception:
            logger.exception("writing outbox marks failed; trying again")
            self.mark_sent([])

    async def _flush(self, items: Sequence[Item]) -> list[bool]:
        marks, self._marks = self._marks, []
        completions = [i for i in items if isinstance(i, Completion)]
        try:
            held, sent = await self._db.run(self._script(items, completions, marks, utcnow()))
        except BaseException:
            self._marks[:0] = marks
            if self._marks:
                self.mark_sent([])
            raise
        if sent and self._handoff is not None:
            self._handoff.hand_over(sent)
        return [i.job_id in held if isinstance(i, Completion) else True for i in items]

    def _script(
        self,
        items: Sequence[Item],
        completions: Sequence[Completion],
        marks: Sequence[int],
        now: datetime,
    ) -> Script[tuple[set[str], list[PendingEvent]]]:
        d = self._db.dialect
        if marks:
            yield from mark_sent_script(d, marks, now)
        memory = _memory_rows(d, items, now)
        if memory:
            yield many(REMEMBER, memory)
        if not completions:
            return set(), []
        held = yield from _mark_done(d, completions, now)
        mine = [c for c in completions if c.job_id in held]
        outcomes = [
            (_state(body), _json(body), d.time(now), c.job_id, lang)
            for c in mine
            for lang, body in c.outcomes.items()
        ]
        if outcomes:
            yield many(SET_OUTCOME, outcomes)
        yield from usage.record(d, mine, now)
        sent = yield from self._enqueue(d, mine, now)
        return held, sent

    def _enqueue(
        self, d: Dialect, completions: Sequence[Completion], now: datetime
    ) -> Script[list[PendingEvent]]:
        """The events' outbox rows, claimed for the local relay if there is one."""
        events = [e for c in completions for e in c.events]
        if not events:
            return []
        relay = self._handoff.name if self._handoff is not None else None
        headers = [headers_of(e, now) for e in events]
        rows = [
            row_values(d, e, h, now, claimed_by=relay, claim=self._claim)
            for e, h in zip(events, headers, strict=True)
        ]
        ids = yield fetch_each(INSERT_RETURNING_ID, rows)
        if relay is None:
            return []
        return [
            PendingEvent(row[0], e.topic, e.key, e.payload, h, values[2].encode())
            for row, e, h, values in zip(ids, events, headers, rows, strict=True)
        ]


def _mark_done(d: Dialect, batch: Sequence[Completion], now: datetime) -> Script[set[str]]:
    """Jobs still held by their completion's owner are done now; the others are not."""
    held = set[str]()
    t = d.time(now)
    for owner in sorted({c.owner for c in batch}):
        ids = d.array([c.job_id for c in batch if c.owner == owner])
        done = yield fetch(
            "UPDATE job SET state = 'done', lease_owner = NULL, lease_expires_at = NULL,"
            f" finished_at = ?, updated_at = ? WHERE {d.any('id')} AND lease_owner = ?"
            f" AND {d.not_indexed}state = 'running' RETURNING id",
            t,
            t,
            ids,
            owner,
        )
        held.update(row[0] for row in done)
    return held


def _memory_rows(d: Dialect, items: Sequence[Item], now: datetime) -> list[tuple[Any, ...]]:
    """One row per key (the first entry given for a key wins, as a stored one does)."""
    rows: dict[str, tuple[Any, ...]] = {}
    t = d.time(now)
    for item in items:
        if isinstance(item, Completion):
            tenant, entries = item.tenant_id, item.memory
        elif isinstance(item, Remember):
            tenant, entries = item.tenant_id, item.entries
        else:
            continue
        for key, e in entries.items():
            rows.setdefault(
                key,
                (
                    key,
                    tenant,
                    e.target_text,
                    e.source_text,
                    e.source_lang,
                    e.target_lang,
                    e.glossary_id,
                    e.glossary_version,
                    t,
                ),
            )
    return list(rows.values())


def _state(body: Mapping[str, Any]) -> str:
    return "failed" if body["type"] == "translation.failed" else "completed"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
