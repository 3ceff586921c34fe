"""Run accepted jobs with bounded concurrency, independent of Kafka partitions.

Up to `max_in_flight` jobs run at once in this process, no tenant more than `tenant_cap`.
Claims are leases renewed while a job runs; on shutdown unfinished jobs are handed back.
A finished job writes its events to the outbox and turns `done` in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary import repository as glossaries
from service.glossary.model import GlossaryDocument
from service.l10n.compliance import Policy
from service.logs import log_context
from service.metrics import Metrics
from service.outbox import enqueue
from service.pipeline import jobs
from service.pipeline.clients import ClientPool
from service.pipeline.contracts import TranslationFailedV1, TranslationRequestV1
from service.pipeline.fairness import pick
from service.pipeline.resource import open_file
from service.pipeline.runner import GlossaryRef, JobContext, Outcome, TargetRunner, failed
from service.store.tables import Glossary, Job, JobTarget, TenantSettings, utcnow

logger = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        runner: TargetRunner,
        clients: ClientPool,
        metrics: Metrics,
        *,
        owner: str,
        results_topic: str,
        max_in_flight: int,
        tenant_cap: int,
        lease: timedelta,
        default_policy: Policy = Policy.report,
        max_attempts: int = 5,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._runner = runner
        self._clients = clients
        self._metrics = metrics
        self._owner = owner
        self._results_topic = results_topic
        self._max = max_in_flight
        self._tenant_cap = tenant_cap
        self._lease = lease
        self._default_policy = default_policy
        self._max_attempts = max_attempts
        self._tenant_policy: TTLCache[str, Policy | None] = TTLCache(maxsize=10_000, ttl=10.0)
        self._on_outbox = on_outbox
        self._wake = asyncio.Event()
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}  # job id -> (tenant, task)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        renewer = asyncio.create_task(self._renew_leases(stop))
        try:
            while not stop.is_set():
                try:
                    await self._fill()
                except Exception:
                    logger.exception("claiming jobs failed; retrying")
                    await asyncio.sleep(1.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.5)
                self._wake.clear()
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

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
        for _, task in self._running.values():
            task.cancel()
        await asyncio.gather(*(t for _, t in self._running.values()), return_exceptions=True)
        async with self._sessions() as s:
            await jobs.release(s, unfinished, owner=self._owner)
        if unfinished:
            logger.info("handed back unfinished jobs", extra={"jobs": len(unfinished)})

    async def _fill(self) -> None:
        slots = self._max - len(self._running)
        if slots <= 0:
            return
        async with self._sessions() as s:
            cands = await jobs.candidates(s, limit=slots * 4, now=utcnow())
        cands = [c for c in cands if c.job_id not in self._running]
        running = Counter(tenant for tenant, _ in self._running.values())
        chosen = pick(cands, slots=slots, running=running, tenant_cap=self._tenant_cap)
        async with self._sessions() as s:
            won = await jobs.claim_many(
                s, [c.job_id for c in chosen], owner=self._owner, lease=self._lease, now=utcnow()
            )
        for job in won:  # the others went to another worker
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
            self._running[job.id] = (job.tenant_id, task)
            task.add_done_callback(functools.partial(self._finished, job.id))
        self._metrics.in_flight.set(len(self._running))

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._metrics.in_flight.set(len(self._running))
        self._wake.set()

    async def _renew_leases(self, stop: asyncio.Event) -> None:
        interval = self._lease.total_seconds() / 3
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                async with self._sessions() as s:
                    await jobs.renew(s, list(self._running), owner=self._owner, lease=self._lease)
            except Exception:
                logger.warning("lease renewal failed", exc_info=True)

    async def _execute(self, job: Job) -> None:
        with log_context(tenant_id=job.tenant_id, request_id=job.request_id, job_id=job.id):
            await self._execute_job(job)

    async def _execute_job(self, job: Job) -> None:
        request = TranslationRequestV1.model_validate(job.request)
        try:
            async with self._sessions() as s:
                targets = await jobs.targets(s, job.id)
            pending = [t.target_lang for t in targets if t.state == jobs.PENDING]
            if job.attempts > self._max_attempts:
                await self._give_up(job, request, pending)
                return
            ctx = await self._context(job, request, targets)
            # With several languages each is saved as it finishes (a crash redoes only the
            # rest); the last, or only, one is saved with the completion, in one transaction.
            early = len(pending) > 1
            outcomes = await asyncio.gather(*(self._target(ctx, lang, early) for lang in pending))
            await self._complete(job, dict(zip(pending, outcomes, strict=True)))
            logger.info("job done")
        except asyncio.CancelledError:
            raise
        except Exception:
            # Left `running`: the lease runs out and the job is retried, here or elsewhere.
            logger.exception("job crashed; it will be retried after its lease")

    async def _give_up(self, job: Job, request: TranslationRequestV1, pending: list[str]) -> None:
        """A job that crashed its worker `max_attempts` times fails instead of looping forever."""
        message = f"the job failed {job.attempts - 1} times in the worker; giving up"
        code = "internal.attempts_exhausted"
        outcomes: dict[str, Outcome] = {
            lang: failed(request, lang, code, message, retryable=True) for lang in pending
        }
        self._metrics.failed.labels(code).inc(len(outcomes))
        await self._complete(job, outcomes)
        logger.error("job given up", extra={"attempts": job.attempts})

    async def _target(self, ctx: JobContext, lang: str, persist: bool) -> Outcome:
        outcome = await self._runner.run(ctx, lang)
        if persist:
            async with self._sessions() as s:
                await jobs.finish_target(
                    s,
                    ctx.job_id,
                    lang,
                    state=_state(outcome),
                    outcome=outcome.model_dump(mode="json"),
                )
        if isinstance(outcome, TranslationFailedV1):
            self._metrics.failed.labels(outcome.error_code).inc()
        else:
            self._metrics.completed.inc()
        return outcome

    async def _context(
        self, job: Job, request: TranslationRequestV1, targets: list[JobTarget]
    ) -> JobContext:
        glossary, error = await self._glossary(job, request)
        return JobContext(
            job_id=job.id,
            created_at=job.created_at.timestamp(),
            request=request,
            client=await self._clients.for_tenant(job.tenant_id),
            glossary=glossary,
            glossary_error=error,
            policy=await self._policy(job.tenant_id, request),
            file=open_file(request.file) if request.file else None,
            async_ids={t.target_lang: dict(t.async_ids) for t in targets},
        )

    async def _policy(self, tenant_id: str, request: TranslationRequestV1) -> Policy:
        """The request's own policy, else the tenant's, else the service default."""
        if request.qa_policy:
            return Policy(request.qa_policy)
        if tenant_id not in self._tenant_policy:  # cached briefly: no query per job
            async with self._sessions() as s:
                row = await s.get(TenantSettings, tenant_id)
            name = row.qa_glossary_policy if row else None
            self._tenant_policy[tenant_id] = Policy(name) if name else None
        return self._tenant_policy[tenant_id] or self._default_policy

    async def _glossary(
        self, job: Job, request: TranslationRequestV1
    ) -> tuple[GlossaryRef | None, str | None]:
        if job.glossary_id is None:
            if request.glossary:
                return None, f"glossary {request.glossary!r} not found for tenant {job.tenant_id!r}"
            return None, None
        async with self._sessions() as s:
            glossary = await s.get(Glossary, job.glossary_id)
            version = await glossaries.version(s, job.glossary_id, job.glossary_version or 0)
        if glossary is None or version is None or version.id is None:
            return None, "the pinned glossary version no longer exists"
        if request.source_lang not in ("auto", version.source_lang):
            if request.glossary:
                return (
                    None,
                    f"glossary is for source {version.source_lang}, not {request.source_lang}",
                )
            return None, None  # the tenant default simply does not apply

        async def load() -> GlossaryDocument:
            async with self._sessions() as s2:
                return await glossaries.document(s2, glossary, version.version)

        ref = GlossaryRef(
            glossary.id,
            version.version,
            version.id,
            version.content_hash,
            version.source_lang,
            load,
        )
        return ref, None

    async def _complete(self, job: Job, fresh: dict[str, Outcome]) -> None:
        async with self._sessions() as s:
            for target in await jobs.targets(s, job.id):
                outcome = fresh.get(target.target_lang)
                if outcome is not None and target.state == jobs.PENDING:
                    jobs.set_outcome(
                        target, state=_state(outcome), outcome=outcome.model_dump(mode="json")
                    )
                body = target.outcome
                assert body is not None
                enqueue(
                    s,
                    topic=self._results_topic,
                    key=job.tenant_id,
                    payload=body,
                    ce_type=body["type"],
                    ce_id=body["event_id"],
                    subject=job.request_id,
                )
            await jobs.mark_done(s, job)
            await s.commit()
        self._on_outbox()


def _state(outcome: Outcome) -> str:
    return jobs.FAILED if isinstance(outcome, TranslationFailedV1) else jobs.COMPLETED


__all__ = ["Executor", "failed"]
