"""Run accepted jobs with bounded concurrency, independent of Kafka partitions.

Up to `max_in_flight` jobs run at once in this process, no tenant more than `tenant_cap`.
Claims are leases renewed while a job runs; a job whose lease another worker took is cancelled
with all its languages (a TaskGroup per job), and its completion is written only while this
worker still holds the lease. On shutdown unfinished jobs are handed back. While the database
is unreachable nothing new is claimed and running jobs wait (see `durable`), losing nothing.
Each claimed job runs in a task of its own (`runner.py`).

A job whose languages are done gives its slot up before its memory entries and completion are
written: the next job is claimed while they commit, so a slot does not sit idle through two
group commits and a claim between one upstream call and the next. It keeps its lease (renewed,
and checked by the completion) until its completion is written; at most `max_in_flight` jobs
are finishing so at once, so a slow database cannot pile them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable

from service.errors import StoreUnavailable
from service.pipeline.jobs.budget import BudgetGate
from service.pipeline.jobs.fairness import pick
from service.pipeline.jobs.runner import ExecutorConfig, JobRunner
from service.pipeline.ports import Candidate, Glossaries, Tenants
from service.pipeline.translation.deps import RunDeps

logger = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        deps: RunDeps,
        tenants: Tenants,
        glossaries: Glossaries,
        config: ExecutorConfig,
        *,
        on_outbox: Callable[[], None] = lambda: None,
        budget: BudgetGate | None = None,
    ) -> None:
        self._store = deps.store
        self._cfg = config
        self._metrics = deps.metrics
        self._runner = JobRunner(
            deps,
            tenants,
            glossaries,
            config,
            on_finishing=self._finishing_now,
            on_outbox=on_outbox,
            budget=budget,
        )
        self._wake = asyncio.Event()
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}  # job id -> (tenant, task)
        self._finishing: set[str] = set()  # jobs only writing their results: no slot held

    @property
    def running(self) -> list[str]:
        return list(self._running)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        renewer = asyncio.create_task(self._renew_leases(stop))
        backoff = 0.0
        try:
            while not stop.is_set():
                backoff = await self._fill_once(backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(backoff, self._cfg.idle_poll))
                self._wake.clear()
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _fill_once(self, backoff: float) -> float:
        """Claim what fits; returns how long to back off (0 when the store answered)."""
        try:
            await self._fill()
        except StoreUnavailable as exc:
            if not backoff:
                logger.warning("database unavailable: not claiming jobs", extra={"error": str(exc)})
            return min(5.0, max(0.5, backoff * 2))
        except Exception:
            logger.exception("claiming jobs failed; retrying")
            return 1.0
        return 0.0

    async def drain(self, deadline: float) -> None:
        """Let running jobs finish for up to `deadline` seconds, then hand the rest back."""
        tasks = [task for _, task in self._running.values()]
        if tasks:
            # Keep the leases alive meanwhile, or another worker could take over mid-drain.
            still = asyncio.Event()
            renewer = asyncio.create_task(self._renew_leases(still))
            await asyncio.wait(tasks, timeout=deadline)
            still.set()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        unfinished = list(self._running)
        leftover = [task for _, task in self._running.values()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover)
        with contextlib.suppress(StoreUnavailable):  # their leases simply run out instead
            await self._store.release(unfinished, self._cfg.owner)
        if unfinished:
            logger.info("handed back unfinished jobs", extra={"jobs": len(unfinished)})

    def _slots(self) -> int:
        """Free slots: jobs at work count, finishing ones do not (up to `max_in_flight` more)."""
        cap = self._cfg.max_in_flight
        return min(cap - self._at_work(), 2 * cap - len(self._running))

    def _at_work(self) -> int:
        return len(self._running) - len(self._finishing)

    async def _fill(self) -> None:
        slots = self._slots()
        if slots <= 0:
            return
        choose = functools.partial(
            _choose,
            mine=frozenset(self._running),
            slots=slots,
            running=Counter(
                tenant
                for job_id, (tenant, _) in self._running.items()
                if job_id not in self._finishing
            ),
            tenant_cap=self._cfg.tenant_cap,
        )
        cfg = self._cfg
        won = await self._store.claim_next(choose, slots * 4, cfg.owner, cfg.lease)
        for job in won:  # the others went to another worker
            task = asyncio.create_task(self._runner.execute(job), name=f"job-{job.id}")
            self._running[job.id] = (job.tenant_id, task)
            task.add_done_callback(functools.partial(self._finished, job.id))
        self._metrics.in_flight.set(self._at_work())

    def _finishing_now(self, job_id: str) -> None:
        """The job's languages are done: its slot is free for the next job."""
        self._finishing.add(job_id)
        self._metrics.in_flight.set(self._at_work())
        self._wake.set()

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._finishing.discard(job_id)
        self._metrics.in_flight.set(self._at_work())
        self._wake.set()

    async def _renew_leases(self, stop: asyncio.Event) -> None:
        interval = self._cfg.lease.total_seconds() / 3
        while not stop.is_set():
            await asyncio.sleep(interval)
            await self.renew_once()

    async def renew_once(self) -> None:
        """Extend every lease; a job another worker took over is cancelled here."""
        ids = list(self._running)
        if not ids:
            return
        try:
            held = await self._store.renew(ids, self._cfg.owner, self._cfg.lease)
        except StoreUnavailable:
            logger.warning("lease renewal failed: database unavailable")
            return
        # A finishing job is left alone: its completion checks the lease itself, and one
        # committed while this renewal ran is done, not lost.
        for job_id in set(ids) - held - self._finishing:
            entry = self._running.get(job_id)
            if entry is not None:
                logger.warning("lease lost; cancelling the job", extra={"job_id": job_id})
                entry[1].cancel()


def _choose(
    candidates: list[Candidate],
    *,
    mine: frozenset[str],
    slots: int,
    running: Counter[str],
    tenant_cap: int,
) -> list[Candidate]:
    """The fairness decision on a snapshot of what runs here (the store may call it in its
    own thread): jobs this worker runs already are not candidates."""
    fresh = [c for c in candidates if c.job_id not in mine]
    return pick(fresh, slots=slots, running=running, tenant_cap=tenant_cap)


__all__ = ["Executor", "ExecutorConfig"]
