"""Jobs in the database: the inbox the consumer fills and the executor drains.

A job is written, in the same transaction as its batch's dead letters, before the batch's
offsets are committed; from then on the database, not Kafka, holds the work. Claims are
leases: a worker that dies simply stops renewing, and another worker takes the job over.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary import repository as glossaries
from service.pipeline.contracts import TranslationRequestV1
from service.pipeline.fairness import Candidate
from service.store.tables import Glossary, Job, JobTarget, utcnow

QUEUED, RUNNING, DONE = "queued", "running", "done"
PENDING, COMPLETED, FAILED = "pending", "completed", "failed"


@dataclass(frozen=True)
class Accepted:
    job: Job
    created: bool


class Inbox:
    """Accepts one batch of requests in the caller's transaction with a handful of queries:
    existing jobs are looked up together, glossaries once per (tenant, name)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session
        self._known: dict[tuple[str, str], Job] = {}
        self._glossaries: dict[tuple[str, str | None], Glossary | None] = {}

    async def prefetch(self, requests: Sequence[TranslationRequestV1]) -> None:
        keys = [(r.tenant_id, r.request_id) for r in requests]
        if not keys:
            return
        query = select(Job).where(tuple_(col(Job.tenant_id), col(Job.request_id)).in_(keys))
        for job in (await self._s.exec(query)).all():
            self._known[(job.tenant_id, job.request_id)] = job

    async def accept(
        self, request: TranslationRequestV1, *, topic: str, partition: int, offset: int
    ) -> Accepted:
        """A new job unless (tenant, request_id) exists; pins the glossary version now."""
        key = (request.tenant_id, request.request_id)
        if key in self._known:
            return Accepted(self._known[key], created=False)
        glossary = await self._glossary(request.tenant_id, request.glossary)
        job = Job(
            id=str(uuid.uuid4()),
            tenant_id=request.tenant_id,
            request_id=request.request_id,
            state=QUEUED,
            request=request.model_dump(mode="json"),
            glossary_id=glossary.id if glossary else None,
            glossary_version=glossary.current_version if glossary else None,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
        )
        self._s.add(job)
        self._s.add_all(
            JobTarget(job_id=job.id, target_lang=lang, state=PENDING)
            for lang in request.target_langs
        )
        self._known[key] = job
        return Accepted(job, created=True)

    async def _glossary(self, tenant_id: str, ref: str | None) -> Glossary | None:
        key = (tenant_id, ref)
        if key not in self._glossaries:
            self._glossaries[key] = await (
                glossaries.find(self._s, tenant_id, ref)
                if ref
                else glossaries.find_default(self._s, tenant_id)
            )
        return self._glossaries[key]


async def find(session: AsyncSession, tenant_id: str, request_id: str) -> Job | None:
    query = select(Job).where(Job.tenant_id == tenant_id, Job.request_id == request_id)
    return (await session.exec(query)).first()


async def targets(session: AsyncSession, job_id: str) -> list[JobTarget]:
    query = select(JobTarget).where(JobTarget.job_id == job_id).order_by(col(JobTarget.target_lang))
    return list((await session.exec(query)).all())


async def candidates(session: AsyncSession, *, limit: int, now: datetime) -> list[Candidate]:
    """Claimable jobs, oldest first: queued ones and running ones whose lease has run out."""
    query = (
        select(Job.id, Job.tenant_id)
        .where(_claimable(now))
        .order_by(col(Job.created_at))
        .limit(limit)
    )
    return [Candidate(job_id, tenant) for job_id, tenant in (await session.exec(query)).all()]


async def claim_many(
    session: AsyncSession, job_ids: Sequence[str], *, owner: str, lease: timedelta, now: datetime
) -> list[Job]:
    """Claim several jobs in one statement; returns those this worker won."""
    if not job_ids:
        return []
    expires = now + lease
    await session.exec(
        update(Job)
        .where(col(Job.id).in_(job_ids), _claimable(now))
        .values(
            state=RUNNING,
            lease_owner=owner,
            lease_expires_at=expires,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
    )
    await session.commit()
    won = select(Job).where(
        col(Job.id).in_(job_ids), col(Job.lease_owner) == owner, col(Job.state) == RUNNING
    )
    return list((await session.exec(won.execution_options(populate_existing=True))).all())


async def renew(
    session: AsyncSession, job_ids: Sequence[str], *, owner: str, lease: timedelta
) -> None:
    if not job_ids:
        return
    await session.exec(
        update(Job)
        .where(col(Job.id).in_(job_ids), col(Job.lease_owner) == owner, col(Job.state) == RUNNING)
        .values(lease_expires_at=utcnow() + lease)
    )
    await session.commit()


async def release(session: AsyncSession, job_ids: Sequence[str], *, owner: str) -> None:
    """Hand unfinished jobs back (shutdown): queued again, for this or another worker."""
    if not job_ids:
        return
    await session.exec(
        update(Job)
        .where(col(Job.id).in_(job_ids), col(Job.lease_owner) == owner, col(Job.state) == RUNNING)
        .values(state=QUEUED, lease_owner=None, lease_expires_at=None)
    )
    await session.commit()


async def save_async_id(
    session: AsyncSession, job_id: str, lang: str, unit_key: str, async_id: str
) -> None:
    target = await session.get(JobTarget, (job_id, lang), populate_existing=True)
    assert target is not None
    target.async_ids = {**target.async_ids, unit_key: async_id}
    target.updated_at = utcnow()
    await session.commit()


async def finish_target(
    session: AsyncSession, job_id: str, lang: str, *, state: str, outcome: dict[str, Any]
) -> None:
    target = await session.get(JobTarget, (job_id, lang), populate_existing=True)
    assert target is not None
    target.state, target.outcome, target.updated_at = state, outcome, utcnow()
    await session.commit()


def set_outcome(target: JobTarget, *, state: str, outcome: dict[str, Any]) -> None:
    target.state, target.outcome, target.updated_at = state, outcome, utcnow()


async def mark_done(session: AsyncSession, job: Job) -> None:
    now = utcnow()
    await session.exec(
        update(Job)
        .where(col(Job.id) == job.id)
        .values(
            state=DONE, lease_owner=None, lease_expires_at=None, finished_at=now, updated_at=now
        )
    )


async def backlog(session: AsyncSession) -> int:
    """Jobs accepted but not done: the number autoscaling and intake back-pressure watch."""
    query = select(func.count()).select_from(Job).where(col(Job.state).in_([QUEUED, RUNNING]))
    return int((await session.exec(query)).one())


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(Job.state) == QUEUED,
        (col(Job.state) == RUNNING) & (col(Job.lease_expires_at) < now),
    )
