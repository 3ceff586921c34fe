"""Jobs in the database: the inbox the consumer fills and the executor drains (JobStore port).

A job is written, in the same transaction as its batch's dead letters, before the batch's
offsets are committed; from then on the database, not Kafka, holds the work. Claims are
leases: a worker that dies simply stops renewing, and another worker takes the job over.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.contracts import TranslationRequestV1
from service.pipeline.fairness import Candidate
from service.pipeline.outcomes import OutboundEvent, Outcome, outcome_event, state_of
from service.pipeline.ports import Accepted, Arrival, ClaimedJob, Target
from service.pipeline.states import JobState, TargetState
from service.store import glossaries
from service.store.errors import store_call
from service.store.outbox import enqueue
from service.store.tables import Glossary, Job, JobTarget, utcnow


async def find(session: AsyncSession, tenant_id: str, request_id: str) -> Job | None:
    query = select(Job).where(Job.tenant_id == tenant_id, Job.request_id == request_id)
    return (await session.exec(query)).first()


async def targets(session: AsyncSession, job_id: str) -> list[JobTarget]:
    query = select(JobTarget).where(JobTarget.job_id == job_id).order_by(col(JobTarget.target_lang))
    return list((await session.exec(query)).all())


class SqlJobStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @store_call
    async def accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], results_topic: str
    ) -> Accepted:
        """One transaction per batch; if a concurrent writer beat us to a job, one per arrival."""
        try:
            async with self._sessions() as s:
                accepted = await _Inbox(s, results_topic).accept(arrivals, dead_letters)
                await s.commit()
                return accepted
        except IntegrityError:
            return await self._accept_one_by_one(arrivals, dead_letters, results_topic)

    async def _accept_one_by_one(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], topic: str
    ) -> Accepted:
        total = Accepted()
        for i, arrival in enumerate([None, *arrivals]):
            async with self._sessions() as s:
                # The dead letters go with the first transaction, each arrival in its own.
                inbox = _Inbox(s, topic)
                got = await inbox.accept([arrival] if arrival else [], [] if i else dead_letters)
                try:
                    await s.commit()
                except IntegrityError:
                    continue  # the other writer created it: a duplicate, nothing to do
            total = Accepted(
                total.created + got.created,
                total.duplicates + got.duplicates,
                total.republished + got.republished,
            )
        return total

    @store_call
    async def backlog(self) -> int:
        active = col(Job.state).in_([JobState.queued, JobState.running])
        async with self._sessions() as s:
            return int((await s.exec(select(func.count()).select_from(Job).where(active))).one())

    @store_call
    async def candidates(self, limit: int) -> list[Candidate]:
        query = (
            select(Job.id, Job.tenant_id)
            .where(_claimable(utcnow()))
            .order_by(col(Job.created_at))
            .limit(limit)
        )
        async with self._sessions() as s:
            return [Candidate(job_id, tenant) for job_id, tenant in (await s.exec(query)).all()]

    @store_call
    async def claim(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> list[ClaimedJob]:
        if not job_ids:
            return []
        now = utcnow()
        async with self._sessions() as s:
            await s.exec(
                update(Job)
                .where(col(Job.id).in_(job_ids), _claimable(now))
                .values(
                    state=JobState.running,
                    lease_owner=owner,
                    lease_expires_at=now + lease,
                    attempts=Job.attempts + 1,
                    updated_at=now,
                )
            )
            await s.commit()
            won = (await s.exec(select(Job).where(col(Job.id).in_(job_ids), _held(owner)))).all()
            rows = await s.exec(
                select(JobTarget).where(col(JobTarget.job_id).in_([j.id for j in won]))
            )
            by_job: dict[str, list[Target]] = {}
            for t in rows.all():
                by_job.setdefault(t.job_id, []).append(_target(t))
        return [_claimed(job, by_job.get(job.id, [])) for job in won]

    @store_call
    async def renew(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> set[str]:
        if not job_ids:
            return set()
        async with self._sessions() as s:
            await s.exec(
                update(Job)
                .where(col(Job.id).in_(job_ids), _held(owner))
                .values(lease_expires_at=utcnow() + lease)
            )
            await s.commit()
            held = await s.exec(select(Job.id).where(col(Job.id).in_(job_ids), _held(owner)))
            return set(held.all())

    @store_call
    async def release(self, job_ids: Sequence[str], owner: str) -> None:
        if not job_ids:
            return
        async with self._sessions() as s:
            await s.exec(
                update(Job)
                .where(col(Job.id).in_(job_ids), _held(owner))
                .values(state=JobState.queued, lease_owner=None, lease_expires_at=None)
            )
            await s.commit()

    @store_call
    async def save_async_id(self, job_id: str, lang: str, call_key: str, async_id: str) -> None:
        async with self._sessions() as s:
            target = await s.get(JobTarget, (job_id, lang), populate_existing=True)
            assert target is not None
            target.async_ids = {**target.async_ids, call_key: async_id}
            target.updated_at = utcnow()
            await s.commit()

    @store_call
    async def finish_target(self, job_id: str, lang: str, outcome: Outcome) -> None:
        async with self._sessions() as s:
            target = await s.get(JobTarget, (job_id, lang), populate_existing=True)
            assert target is not None
            _set_outcome(target, outcome)
            await s.commit()

    @store_call
    async def complete(
        self, job_id: str, owner: str, outcomes: Mapping[str, Outcome], topic: str
    ) -> bool:
        async with self._sessions() as s:
            job = (await s.exec(select(Job).where(Job.id == job_id, _held(owner)))).first()
            if job is None:
                return False
            for target in await targets(s, job_id):
                fresh = outcomes.get(target.target_lang)
                if fresh is not None and target.state == TargetState.pending:
                    _set_outcome(target, fresh)
                assert target.outcome is not None
                enqueue(
                    s,
                    outcome_event(
                        target.outcome,
                        topic=topic,
                        tenant_id=job.tenant_id,
                        request_id=job.request_id,
                    ),
                )
            now = utcnow()
            job.state, job.lease_owner, job.lease_expires_at = JobState.done, None, None
            job.finished_at = job.updated_at = now
            await s.commit()
        return True


class _Inbox:
    """Accepts one batch in the caller's transaction with a handful of queries: existing jobs
    are looked up together, glossaries once per (tenant, name)."""

    def __init__(self, session: AsyncSession, results_topic: str) -> None:
        self._s = session
        self._topic = results_topic
        self._known: dict[tuple[str, str], Job] = {}
        self._glossaries: dict[tuple[str, str | None], Glossary | None] = {}

    async def accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent]
    ) -> Accepted:
        for letter in dead_letters:
            enqueue(self._s, letter)
        await self._prefetch([a.request for a in arrivals])
        created = duplicates = republished = 0
        for arrival in arrivals:
            key = (arrival.request.tenant_id, arrival.request.request_id)
            known = self._known.get(key)
            if known is None:
                self._known[key] = await self._new_job(arrival)
                created += 1
                continue
            duplicates += 1
            if known.state == JobState.done:
                republished += await self._republish(known)
        return Accepted(created, duplicates, republished)

    async def _prefetch(self, requests: Sequence[TranslationRequestV1]) -> None:
        keys = [(r.tenant_id, r.request_id) for r in requests]
        if not keys:
            return
        query = select(Job).where(tuple_(col(Job.tenant_id), col(Job.request_id)).in_(keys))
        for job in (await self._s.exec(query)).all():
            self._known[(job.tenant_id, job.request_id)] = job

    async def _new_job(self, arrival: Arrival) -> Job:
        """A new job, pinned to the glossary version current now."""
        request = arrival.request
        glossary = await self._glossary(request.tenant_id, request.glossary)
        job = Job(
            id=str(uuid.uuid4()),
            tenant_id=request.tenant_id,
            request_id=request.request_id,
            state=JobState.queued,
            request=request.model_dump(mode="json"),
            glossary_id=glossary.id if glossary else None,
            glossary_version=glossary.current_version if glossary else None,
            source_topic=arrival.topic,
            source_partition=arrival.partition,
            source_offset=arrival.offset,
        )
        self._s.add(job)
        self._s.add_all(
            JobTarget(job_id=job.id, target_lang=lang, state=TargetState.pending)
            for lang in request.target_langs
        )
        return job

    async def _republish(self, job: Job) -> int:
        """A duplicate of a finished request gets the stored events again, no upstream call."""
        sent = 0
        for target in await targets(self._s, job.id):
            if target.outcome is not None:
                body = target.outcome
                enqueue(
                    self._s,
                    outcome_event(
                        body, topic=self._topic, tenant_id=job.tenant_id, request_id=job.request_id
                    ),
                )
                sent += 1
        return sent

    async def _glossary(self, tenant_id: str, ref: str | None) -> Glossary | None:
        key = (tenant_id, ref)
        if key not in self._glossaries:
            self._glossaries[key] = await (
                glossaries.find(self._s, tenant_id, ref)
                if ref
                else glossaries.find_default(self._s, tenant_id)
            )
        return self._glossaries[key]


def _set_outcome(target: JobTarget, outcome: Outcome) -> None:
    target.state = state_of(outcome)
    target.outcome = outcome.model_dump(mode="json")
    target.updated_at = utcnow()


def _target(row: JobTarget) -> Target:
    return Target(row.target_lang, TargetState(row.state), row.outcome, dict(row.async_ids))


def _claimed(job: Job, job_targets: list[Target]) -> ClaimedJob:
    return ClaimedJob(
        id=job.id,
        tenant_id=job.tenant_id,
        request_id=job.request_id,
        request=TranslationRequestV1.model_validate(job.request),
        created_at=job.created_at,
        attempts=job.attempts,
        glossary_id=job.glossary_id,
        glossary_version=job.glossary_version,
        targets=sorted(job_targets, key=lambda t: t.lang),
    )


def _held(owner: str) -> ColumnElement[bool]:
    return (col(Job.lease_owner) == owner) & (col(Job.state) == JobState.running)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(Job.state) == JobState.queued,
        (col(Job.state) == JobState.running) & (col(Job.lease_expires_at) < now),
    )
