"""Running one claimed job: its context, its languages, its completion.

A job is resolved once (`translation.context.resolve`: credential, glossary pin, policy) and
admitted under its tenant's budget; a refusal there fails every language at once. Then every
pending language runs; a crash in one cancels the others (a TaskGroup, with more than one).
With several languages each outcome is saved (and counted) as it finishes, so a crash redoes
only the others; a single one is saved with the completion, in one transaction.

The job's slot is given up (`on_finishing`) before its memory entries and its completion are
written; the completion checks the lease, and is written only while this worker holds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from service import tracing
from service.errors import FailureCode, LeaseLost, Refused
from service.l10n.compliance import Policy
from service.logs import log_context
from service.metrics import child
from service.pipeline.contract.outcomes import Outcome, failed, outcome_event
from service.pipeline.jobs.budget import BudgetGate
from service.pipeline.ports import ClaimedJob, Completion, Glossaries, Remembered, Tenants
from service.pipeline.translation.context import JobContext, resolve, unsupported_pair
from service.pipeline.translation.deps import RunDeps
from service.pipeline.translation.run import LanguageRun

logger = logging.getLogger(__name__)

Memory = Mapping[str, Remembered]


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


class JobRunner:
    def __init__(
        self,
        deps: RunDeps,
        tenants: Tenants,
        glossaries: Glossaries,
        config: ExecutorConfig,
        *,
        on_finishing: Callable[[str], None],
        on_outbox: Callable[[], None],
        budget: BudgetGate | None,
    ) -> None:
        self._deps, self._store, self._metrics = deps, deps.store, deps.metrics
        self._tenants, self._glossaries, self._cfg = tenants, glossaries, config
        self._on_finishing, self._on_outbox, self._budget = on_finishing, on_outbox, budget

    async def execute(self, job: ClaimedJob) -> None:
        with (
            log_context(tenant_id=job.tenant_id, request_id=job.request_id, job_id=job.id),
            tracing.span("job", parent=job.trace, attributes=lambda: _job_attributes(job)),
        ):
            try:
                await self._execute(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _only_lease_lost(exc):
                    logger.warning("lease lost; another worker finishes the job")
                    return
                # Left `running`: the lease runs out and the job is retried, here or elsewhere.
                logger.exception("job crashed; it will be retried after its lease")
                tracing.annotate({"error.type": "crashed"})

    async def _execute(self, job: ClaimedJob) -> None:
        if job.attempts == 1:  # a retry's wait includes the crashed attempt: not queue time
            self._metrics.queue_time.observe(max(0.0, time.time() - job.created_at.timestamp()))
        if job.attempts > self._cfg.max_attempts:
            await self._give_up(job)
            return
        ctx = await self._prepare(job)
        outcomes, memory = await self._languages(job, ctx)
        self._on_finishing(job.id)
        # Memory is a cache: its entries go with the completion, after the slot is given up.
        # Several languages were each counted when saved; a single one counts on completion.
        await self._complete(job, outcomes, memory, count=len(job.pending) <= 1)

    async def _prepare(self, job: ClaimedJob) -> JobContext | Refused:
        """The job's context, with its budget reservation; or why every language fails."""
        try:
            ctx = await resolve(
                job,
                tenants=self._tenants,
                glossaries=self._glossaries,
                default_policy=self._cfg.default_policy,
                durable=self._deps.durable,
            )
            held = await self._budget.admit(ctx) if self._budget is not None else None
        except Refused as problem:
            return problem
        return ctx if held is None else dataclasses.replace(ctx, estimate=held)

    async def _languages(
        self, job: ClaimedJob, ctx: JobContext | Refused
    ) -> tuple[dict[str, Outcome], Memory]:
        """Every pending language's outcome, and the new memory entries of them all."""
        pending = job.pending
        if len(pending) <= 1:  # one language: no group (two tasks fewer per job, the common case)
            for lang in pending:
                outcome, memory = await self._language(job, ctx, lang, save=False)
                return {lang: outcome}, memory
            return {}, {}
        async with asyncio.TaskGroup() as group:
            tasks = {
                lang: group.create_task(self._language(job, ctx, lang, save=True))
                for lang in pending
            }
        results = {lang: task.result() for lang, task in tasks.items()}
        memory = {key: entry for _, fresh in results.values() for key, entry in fresh.items()}
        return {lang: outcome for lang, (outcome, _) in results.items()}, memory

    async def _language(
        self, job: ClaimedJob, ctx: JobContext | Refused, lang: str, *, save: bool
    ) -> tuple[Outcome, Memory]:
        """One language's outcome and memory entries; saved and counted at once if `save`."""
        with tracing.span("language", attributes=lambda: {"zai_l10n.target_lang": lang}) as span:
            result = await self._outcome(job, ctx, lang)
            outcome = result[0]
            tracing.tag(span, lambda: _outcome_attributes(outcome))
        if save:
            store, job_id = self._store, job.id
            await self._deps.durable("outcome", lambda: store.finish_target(job_id, lang, outcome))
            self._count(outcome)
        return result

    async def _outcome(
        self, job: ClaimedJob, ctx: JobContext | Refused, lang: str
    ) -> tuple[Outcome, Memory]:
        if isinstance(ctx, Refused):
            return _refused(job, lang, ctx), {}
        problem = unsupported_pair(job.request.source_lang, lang)
        if problem is not None:
            return _refused(job, lang, problem), {}
        return await LanguageRun(ctx, lang, self._deps, ctx.translator).run()

    def _count(self, outcome: Outcome) -> None:
        """Count an outcome once it is stored, so a run whose lease was lost (and whose job
        another worker finishes) is not counted twice."""
        if outcome.type == "translation.failed":
            child(self._metrics.failed, outcome.error_code).inc()
        else:
            self._metrics.completed.inc()

    async def _give_up(self, job: ClaimedJob) -> None:
        """A job that crashed its worker `max_attempts` times fails instead of looping forever."""
        message = f"the job failed {job.attempts - 1} times in the worker; giving up"
        code = FailureCode.internal_attempts_exhausted
        outcomes = {
            lang: failed(job.request, lang, code, message, retryable=True) for lang in job.pending
        }
        await self._complete(job, outcomes, {}, count=True)
        logger.error("job given up", extra={"attempts": job.attempts})

    async def _complete(
        self, job: ClaimedJob, outcomes: Mapping[str, Outcome], memory: Memory, *, count: bool
    ) -> None:
        """Write the completion; `count`: its outcomes were not counted when saved."""
        store, completion = self._store, self._completion(job, outcomes, memory)
        done = await self._deps.durable("completion", lambda: store.complete(completion))
        if done:
            logger.info("job done")
            if count:
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
        self, job: ClaimedJob, outcomes: Mapping[str, Outcome], memory: Memory
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


def _refused(job: ClaimedJob, lang: str, problem: Refused) -> Outcome:
    logger.warning("refused", extra={"code": problem.code, "lang": lang})
    return failed(job.request, lang, problem.code, problem.message, retryable=problem.retryable)


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
