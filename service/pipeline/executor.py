"""Run accepted jobs with bounded concurrency, independent of Kafka partitions.

Up to `max_in_flight` jobs run at once in this process, no tenant more than `tenant_cap`.
Claims are leases renewed while a job runs; a job whose lease another worker took is cancelled
with all its languages (a TaskGroup per job), and its completion is written only while this
worker still holds the lease. On shutdown unfinished jobs are handed back. While the database
is unreachable nothing new is claimed and running jobs wait (see `durable`), losing nothing.

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
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from service import tracing
from service.errors import FailureCode, LeaseLost, StoreUnavailable
from service.l10n.compliance import Policy
from service.logs import log_context
from service.metrics import child
from service.pipeline.budget import BudgetGate
from service.pipeline.fairness import Candidate, pick
from service.pipeline.job_context import JobContext, resolve, unsupported_pair
from service.pipeline.language_run import LanguageRun, RunDeps
from service.pipeline.outcomes import Outcome, failed, outcome_event
from service.pipeline.ports import ClaimedJob, Completion, Glossaries, Remembered, Tenants

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutorConfig:
    owner: str
    results_topic: str
    max_in_flight: int = 64
    tenant_cap: int = 48
    lease: timedelta = timedelta(seconds=60)
    default_policy: Policy = Policy.report
    max_attempts: int = 5
    idle_poll: float = 0.5  # seconds between looks for new jobs when nobody wakes us


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
        self._deps = deps
        self._budget = budget
        self._store = deps.store
        self._tenants = tenants
        self._glossaries = glossaries
        self._cfg = config
        self._metrics = deps.metrics
        self._on_outbox = on_outbox
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
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
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

    async def _execute(self, job: ClaimedJob) -> None:
        with (
            log_context(tenant_id=job.tenant_id, request_id=job.request_id, job_id=job.id),
            tracing.span("job", parent=job.trace, attributes=lambda: _job_attributes(job)),
        ):
            try:
                await self._execute_job(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _only_lease_lost(exc):
                    logger.warning("lease lost; another worker finishes the job")
                    return
                # Left `running`: the lease runs out and the job is retried, here or elsewhere.
                logger.exception("job crashed; it will be retried after its lease")
                tracing.annotate({"error.type": "crashed"})

    async def _execute_job(self, job: ClaimedJob) -> None:
        if job.attempts == 1:  # a retry's wait includes the crashed attempt: not queue time
            self._metrics.queue_time.observe(max(0.0, time.time() - job.created_at.timestamp()))
        if job.attempts > self._cfg.max_attempts:
            await self._give_up(job)
            return
        ctx = await resolve(
            job,
            tenants=self._tenants,
            glossaries=self._glossaries,
            default_policy=self._cfg.default_policy,
            durable=self._deps.durable,
        )
        if self._budget is not None:
            await self._budget.admit(ctx)
        runs: list[LanguageRun] = []
        outcomes = await self._languages(ctx, runs)
        self._finishing_now(job.id)
        # Memory is a cache: its entries go with the completion, after the slot is given up.
        memory = {key: text for run in runs for key, text in run.take_fresh().items()}
        # Several languages were each counted when saved; a single one counts on completion.
        await self._complete(job, outcomes, counted=len(ctx.job.pending) > 1, memory=memory)

    async def _languages(self, ctx: JobContext, runs: list[LanguageRun]) -> dict[str, Outcome]:
        """Every pending language at once; a crash in one cancels the others (TaskGroup).
        `runs` gets each language's run, whose memory entries are still to be written."""
        pending = ctx.job.pending
        # With several languages each is saved as it finishes (a crash redoes only the rest);
        # the last, or only, one is saved with the completion, in one transaction.
        early = len(pending) > 1
        if not early:  # one language: no group (two tasks fewer per job, the common case)
            return {lang: await self._target(ctx, lang, False, runs) for lang in pending}
        async with asyncio.TaskGroup() as group:
            tasks = {
                lang: group.create_task(self._target(ctx, lang, early, runs)) for lang in pending
            }
        return {lang: task.result() for lang, task in tasks.items()}

    async def _target(
        self, ctx: JobContext, lang: str, persist: bool, runs: list[LanguageRun]
    ) -> Outcome:
        with tracing.span("language", attributes=lambda: {"zai_l10n.target_lang": lang}) as span:
            outcome = await self._outcome(ctx, lang, runs)
            tracing.tag(span, lambda: _outcome_attributes(outcome))
        if persist:
            store, job_id = self._store, ctx.job.id
            await self._deps.durable("outcome", lambda: store.finish_target(job_id, lang, outcome))
            self._count(outcome)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        """Count an outcome once it is stored, so a run whose lease was lost (and whose job
        another worker finishes) is not counted twice."""
        if outcome.type == "translation.failed":
            child(self._metrics.failed, outcome.error_code).inc()
        else:
            self._metrics.completed.inc()

    async def _outcome(self, ctx: JobContext, lang: str, runs: list[LanguageRun]) -> Outcome:
        problem = ctx.problem or unsupported_pair(ctx.request.source_lang, lang)
        if problem is not None:
            logger.warning("refused", extra={"code": problem.code, "lang": lang})
            return failed(
                ctx.request, lang, problem.code, problem.message, retryable=problem.retryable
            )
        assert ctx.translator is not None
        run = LanguageRun(ctx, lang, self._deps, ctx.translator, defer_memory=True)
        runs.append(run)
        return await run.run()

    async def _give_up(self, job: ClaimedJob) -> None:
        """A job that crashed its worker `max_attempts` times fails instead of looping forever."""
        message = f"the job failed {job.attempts - 1} times in the worker; giving up"
        code = FailureCode.internal_attempts_exhausted
        outcomes = {
            lang: failed(job.request, lang, code, message, retryable=True) for lang in job.pending
        }
        await self._complete(job, outcomes, counted=False)
        logger.error("job given up", extra={"attempts": job.attempts})

    async def _complete(
        self,
        job: ClaimedJob,
        outcomes: Mapping[str, Outcome],
        *,
        counted: bool,
        memory: Mapping[str, Remembered] | None = None,
    ) -> None:
        store, completion = self._store, self._completion(job, outcomes, memory or {})
        done = await self._deps.durable("completion", lambda: store.complete(completion))
        if done:
            logger.info("job done")
            if not counted:
                for outcome in outcomes.values():
                    self._count(outcome)
            self._observe_done(job, outcomes)
            self._on_outbox()
        else:
            logger.warning("lease lost before completion; another worker finishes the job")

    def _observe_done(self, job: ClaimedJob, outcomes: Mapping[str, Outcome]) -> None:
        """End-to-end latency: from the job's acceptance to its outcome in the outbox."""
        seconds = max(0.0, time.time() - job.created_at.timestamp())
        for outcome in outcomes.values():
            child(self._metrics.end_to_end, outcome.type).observe(seconds)

    def _completion(
        self, job: ClaimedJob, outcomes: Mapping[str, Outcome], memory: Mapping[str, Remembered]
    ) -> Completion:
        """Fresh bodies to store; events for every language, earlier attempts' included; they
        carry the job span's trace context (or the request's, while tracing is off)."""
        fresh = {lang: o.model_dump(mode="json") for lang, o in outcomes.items()}
        bodies = [fresh.get(t.lang) or t.outcome for t in job.targets]
        trace = tracing.outgoing(job.trace)
        events = [
            outcome_event(
                b,
                topic=self._cfg.results_topic,
                tenant_id=job.tenant_id,
                request_id=job.request_id,
                trace=trace,
            )
            for b in bodies
            if b is not None
        ]
        return Completion(job.id, self._cfg.owner, fresh, events, job.tenant_id, memory)


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


def _job_attributes(job: ClaimedJob) -> dict[str, str | int]:
    return {
        "zai_l10n.tenant_id": job.tenant_id,
        "zai_l10n.request_id": job.request_id,
        "zai_l10n.job_id": job.id,
        "zai_l10n.attempt": job.attempts,
        "zai_l10n.target_langs": ",".join(job.pending),
    }


def _outcome_attributes(outcome: Outcome) -> dict[str, str | None]:
    failure = outcome if outcome.type == "translation.failed" else None
    return {
        "zai_l10n.outcome": outcome.type,
        "error.type": getattr(failure, "error_code", None),
    }


def _only_lease_lost(exc: BaseException) -> bool:
    """A LeaseLost, maybe in the job's TaskGroup with its siblings' cancellations."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        return bool(leaves) and all(_only_lease_lost(e) for e in leaves)
    return isinstance(exc, LeaseLost)


__all__ = ["Executor", "ExecutorConfig"]
