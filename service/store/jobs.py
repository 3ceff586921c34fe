"""Jobs in the database: the inbox the consumer fills and the executor drains (JobStore port).

A job is written, in the same transaction as its batch's dead letters, before the batch's
offsets are committed; from then on the database, not Kafka, holds the work. Claims are
leases: a worker that dies simply stops renewing, and another worker takes the job over.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, bindparam, func, insert, or_, tuple_, update
from sqlalchemy import select as core_select  # sqlmodel's select takes at most 4 columns
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlalchemy.sql import Executable
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.contracts import TranslationRequestV1
from service.pipeline.fairness import Candidate
from service.pipeline.outcomes import OutboundEvent, Outcome, outcome_event, state_of
from service.pipeline.ports import Accepted, Arrival, ClaimedJob, Completion, PendingEvent, Target
from service.pipeline.states import JobState, TargetState
from service.store import glossaries, usage
from service.store.db import engine_of, reader
from service.store.errors import store_call
from service.store.group_commit import GroupCommit
from service.store.outbox import CLAIM, Handoff, claimed_rows, outbox_row
from service.store.tables import Glossary, Job, JobTarget, OutboxEvent, utcnow


async def find(session: AsyncSession, tenant_id: str, request_id: str) -> Job | None:
    query = select(Job).where(Job.tenant_id == tenant_id, Job.request_id == request_id)
    return (await session.exec(query)).first()


async def targets(session: AsyncSession, job_id: str) -> list[JobTarget]:
    query = select(JobTarget).where(JobTarget.job_id == job_id).order_by(col(JobTarget.target_lang))
    return list((await session.exec(query)).all())


JOB, TARGET, OUTBOX = Job.__table__, JobTarget.__table__, OutboxEvent.__table__  # type: ignore[attr-defined]


class SqlJobStore:
    """`handoff`, the worker's own relay, gets the outbox rows of each completion already
    claimed for it, so it sends them without looking for them (see service.store.outbox); if
    this worker dies first, another relay sends them once `claim` has passed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        handoff: Handoff | None = None,
        claim: timedelta = CLAIM,
    ) -> None:
        self._sessions = sessions
        self._engine = engine_of(sessions)
        self._reader = reader(self._engine)
        self._handoff, self._claim = handoff, claim
        self._completions = GroupCommit(self._complete_many)

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
        # The dead letters go with the first transaction, each arrival in its own.
        total = await self._accept_alone([], dead_letters, topic)
        for arrival in arrivals:
            try:
                total += await self._accept_alone([arrival], [], topic)
            except IntegrityError:
                # The other writer created it meanwhile: now it is found, as a duplicate or
                # a conflict.
                total += await self._accept_alone([arrival], [], topic)
        return total

    async def _accept_alone(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], topic: str
    ) -> Accepted:
        async with self._sessions() as s:
            got = await _Inbox(s, topic).accept(arrivals, dead_letters)
            await s.commit()
            return got

    @store_call
    async def backlog(self) -> int:
        active = JOB.c.state.in_([JobState.queued, JobState.running])
        async with self._reader.connect() as conn:
            return int((await conn.execute(select(func.count()).where(active))).scalar_one())

    @store_call
    async def candidates(self, limit: int) -> list[Candidate]:
        query = (
            select(JOB.c.id, JOB.c.tenant_id)
            .where(_claimable(utcnow()))
            .order_by(JOB.c.created_at)
            .limit(limit)
        )
        async with self._reader.connect() as conn:
            return [Candidate(job_id, tenant) for job_id, tenant in await conn.execute(query)]

    @store_call
    async def claim(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> list[ClaimedJob]:
        """One UPDATE … RETURNING claims and reads the jobs won; one SELECT their targets.
        Rows another transaction has locked (a claim, a completion, an async id being saved)
        are skipped, not waited for: workers claiming the same candidates in another order
        deadlocked on PostgreSQL. SQLite has no row locks, nor this clause."""
        if not job_ids:
            return []
        now = utcnow()
        free = (
            select(JOB.c.id)
            .where(JOB.c.id.in_(job_ids), _claimable(now))
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(JOB)
            .where(JOB.c.id.in_(free), _claimable(now))
            .values(
                state=JobState.running,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=JOB.c.attempts + 1,
                updated_at=now,
            )
            .returning(*_CLAIMED_COLUMNS)
        )
        async with self._engine.begin() as conn:
            won = (await conn.execute(claim)).mappings().all()
            query = select(TARGET).where(TARGET.c.job_id.in_([j["id"] for j in won]))
            rows = (await conn.execute(query)).mappings().all() if won else []
        by_job: dict[str, list[Target]] = {}
        for t in rows:
            target = Target(t["target_lang"], TargetState(t["state"]), t["outcome"], t["async_ids"])
            by_job.setdefault(t["job_id"], []).append(target)
        return [_claimed(job, by_job.get(job["id"], [])) for job in won]

    @store_call
    async def renew(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> set[str]:
        if not job_ids:
            return set()
        async with self._engine.begin() as conn:
            held = await conn.execute(
                update(JOB)
                .where(JOB.c.id.in_(job_ids), _held(owner))
                .values(lease_expires_at=utcnow() + lease)
                .returning(JOB.c.id)
            )
            return set(held.scalars())

    @store_call
    async def release(self, job_ids: Sequence[str], owner: str) -> None:
        if not job_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(JOB)
                .where(JOB.c.id.in_(job_ids), _held(owner))
                .values(state=JobState.queued, lease_owner=None, lease_expires_at=None)
            )

    @store_call
    async def save_async_id(
        self, job_id: str, lang: str, call_key: str, async_id: str, owner: str
    ) -> bool:
        """The job row is locked first, as a claim's UPDATE locks it: either this id is
        committed before another worker's claim reads the job's targets, or the claim came
        first and nothing is written. The target row is locked too: a language's calls save
        their ids side by side, and without it the later commit drops the other's id.
        (SQLite has no FOR UPDATE; its one connection runs these transactions one by one.)"""
        async with self._sessions() as s:
            held = select(Job.id).where(col(Job.id) == job_id, _held(owner)).with_for_update()
            if (await s.exec(held)).first() is None:
                return False
            target = await s.get(
                JobTarget, (job_id, lang), populate_existing=True, with_for_update=True
            )
            assert target is not None
            target.async_ids = {**target.async_ids, call_key: async_id}
            target.updated_at = utcnow()
            await s.commit()
            return True

    @store_call
    async def finish_target(self, job_id: str, lang: str, outcome: Outcome) -> None:
        async with self._sessions() as s:
            target = await s.get(JobTarget, (job_id, lang), populate_existing=True)
            assert target is not None
            _set_outcome(target, outcome)
            await s.commit()

    async def complete(self, completion: Completion) -> bool:
        """Completions arriving together share one transaction (group commit)."""
        return await self._completions.submit(completion)

    @store_call
    async def _complete_many(self, batch: Sequence[Completion]) -> list[bool]:
        """Core statements, a handful per batch: done where still held (RETURNING says which),
        the fresh outcomes of languages still pending, the usage ledger and the budget
        reservations (service.store.usage), every event into the outbox. The
        events go to the local relay only once they are committed."""
        now = utcnow()
        async with self._engine.begin() as conn:
            held = await _mark_done(conn, batch, now)
            mine = [c for c in batch if c.job_id in held]
            targets = [
                {
                    "b_job": c.job_id,
                    "b_lang": lang,
                    "b_state": _state(body),
                    "b_outcome": dict(body),
                    "b_now": now,
                }
                for c in mine
                for lang, body in c.outcomes.items()
            ]
            if targets:
                await conn.execute(_SET_OUTCOME, targets)
            await usage.record(conn, mine, now)  # the ledger, from these very events
            sent = await self._enqueue(conn, [e for c in mine for e in c.events], now)
        if sent and self._handoff is not None:
            self._handoff.hand_over(sent)
        return [c.job_id in held for c in batch]

    async def _enqueue(
        self, conn: AsyncConnection, events: Sequence[OutboundEvent], now: datetime
    ) -> list[PendingEvent]:
        """Outbox rows for `events`, claimed for the local relay if there is one."""
        if not events:
            return []
        if self._handoff is None:
            await conn.execute(insert(OUTBOX), [outbox_row(e, now) for e in events])
            return []
        name, claim = self._handoff.name, self._claim
        rows = [outbox_row(e, now, claimed_by=name, claim=claim) for e in events]
        return await claimed_rows(conn, rows)


async def _mark_done(conn: AsyncConnection, batch: Sequence[Completion], now: datetime) -> set[str]:
    """Jobs still held by their completion's owner are done now; the others are not."""
    held = set[str]()
    for owner in {c.owner for c in batch}:
        ids = [c.job_id for c in batch if c.owner == owner]
        done = await conn.execute(
            update(JOB)
            .where(JOB.c.id.in_(ids), JOB.c.lease_owner == owner, JOB.c.state == JobState.running)
            .values(
                state=JobState.done,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            .returning(JOB.c.id)
        )
        held.update(done.scalars())
    return held


_SET_OUTCOME = (
    update(TARGET)
    .where(
        TARGET.c.job_id == bindparam("b_job"),
        TARGET.c.target_lang == bindparam("b_lang"),
        TARGET.c.state == TargetState.pending,
    )
    .values(
        state=bindparam("b_state"), outcome=bindparam("b_outcome"), updated_at=bindparam("b_now")
    )
)


def _state(body: Mapping[str, Any]) -> str:
    return TargetState.failed if body["type"] == "translation.failed" else TargetState.completed


@dataclass(frozen=True)
class _Known:
    """A job that exists for a (tenant, request_id): stored, or created earlier in the batch."""

    job_id: str
    state: str
    content_hash: str | None  # None: accepted before migration 0005


class _Inbox:
    """Accepts one batch in the caller's transaction with a handful of Core statements:
    existing jobs are looked up together, glossaries once per (tenant, name), new jobs, their
    targets and the dead letters inserted with one statement each."""

    def __init__(self, session: AsyncSession, results_topic: str) -> None:
        self._s = session
        self._topic = results_topic
        self._known: dict[tuple[str, str], _Known] = {}  # by (tenant, request_id)
        self._glossaries: dict[tuple[str, str | None], Glossary | None] = {}
        self._jobs: list[dict[str, Any]] = []
        self._targets: list[dict[str, Any]] = []
        self._events: list[OutboundEvent] = []

    async def accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent]
    ) -> Accepted:
        self._events.extend(dead_letters)
        await self._prefetch([a.request for a in arrivals])
        created = duplicates = republished = conflicts = 0
        for arrival in arrivals:
            key = (arrival.request.tenant_id, arrival.request.request_id)
            known, digest = self._known.get(key), arrival.content_hash
            if known is None:
                job_id = await self._new_job(arrival, digest)
                self._known[key] = _Known(job_id, JobState.queued, digest)
                created += 1
            elif known.content_hash is not None and known.content_hash != digest:
                self._events.append(arrival.conflict(known.content_hash))
                conflicts += 1
            else:
                duplicates += 1
                if known.state == JobState.done:
                    republished += await self._republish(known.job_id, *key, trace=arrival.trace)
        await self._write()
        return Accepted(created, duplicates, republished, conflicts)

    async def _prefetch(self, requests: Sequence[TranslationRequestV1]) -> None:
        keys = [(r.tenant_id, r.request_id) for r in requests]
        if not keys:
            return
        columns = ("id", "tenant_id", "request_id", "state", "request_hash")
        query = core_select(*(JOB.c[name] for name in columns)).where(
            tuple_(JOB.c.tenant_id, JOB.c.request_id).in_(keys)
        )
        for row in await self._execute(query):
            self._known[(row.tenant_id, row.request_id)] = _Known(
                row.id, row.state, row.request_hash
            )

    async def _new_job(self, arrival: Arrival, content_hash: str) -> str:
        """A new job, pinned to the glossary version current now."""
        request, now, job_id = arrival.request, utcnow(), str(uuid.uuid4())
        glossary = await self._glossary(request.tenant_id, request.glossary)
        self._jobs.append(
            {
                "id": job_id,
                "tenant_id": request.tenant_id,
                "request_id": request.request_id,
                "state": JobState.queued,
                "request": request.model_dump(mode="json"),
                "request_hash": content_hash,
                "glossary_id": glossary.id if glossary else None,
                "glossary_version": glossary.current_version if glossary else None,
                "source_topic": arrival.topic,
                "source_partition": arrival.partition,
                "source_offset": arrival.offset,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                "trace_context": dict(arrival.trace) or None,
            }
        )
        self._targets.extend(
            {
                "job_id": job_id,
                "target_lang": lang,
                "state": TargetState.pending,
                "async_ids": {},
                "updated_at": now,
            }
            for lang in request.target_langs
        )
        return job_id

    async def _write(self) -> None:
        for table, rows in ((JOB, self._jobs), (TARGET, self._targets)):
            if rows:
                await self._execute(insert(table), rows)
        if self._events:
            now = utcnow()
            await self._execute(insert(OUTBOX), [outbox_row(e, now) for e in self._events])

    async def _execute(
        self, statement: Executable, rows: list[dict[str, Any]] | None = None
    ) -> Result[Any]:
        conn = await self._s.connection()
        return await conn.execute(statement, rows)

    async def _republish(
        self, job_id: str, tenant_id: str, request_id: str, *, trace: Mapping[str, str]
    ) -> int:
        """A duplicate of a finished request gets the stored events again, no upstream call;
        they carry the duplicate's trace context."""
        query = select(TARGET.c.outcome).where(TARGET.c.job_id == job_id)
        bodies = [b for b in (await self._execute(query)).scalars() if b is not None]
        self._events.extend(
            outcome_event(
                b, topic=self._topic, tenant_id=tenant_id, request_id=request_id, trace=trace
            )
            for b in bodies
        )
        return len(bodies)

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


_CLAIMED_COLUMNS = [
    JOB.c[name]
    for name in (
        "id",
        "tenant_id",
        "request_id",
        "request",
        "created_at",
        "attempts",
        "glossary_id",
        "glossary_version",
        "trace_context",
        "lease_owner",
    )
]


def _claimed(job: RowMapping, job_targets: list[Target]) -> ClaimedJob:
    return ClaimedJob(
        id=job["id"],
        tenant_id=job["tenant_id"],
        request_id=job["request_id"],
        request=TranslationRequestV1.model_validate(job["request"]),
        created_at=job["created_at"],
        attempts=job["attempts"],
        glossary_id=job["glossary_id"],
        glossary_version=job["glossary_version"],
        targets=sorted(job_targets, key=lambda t: t.lang),
        trace=job["trace_context"] or {},
        owner=job["lease_owner"],
    )


def _held(owner: str) -> ColumnElement[bool]:
    return and_(JOB.c.lease_owner == owner, JOB.c.state == JobState.running)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        JOB.c.state == JobState.queued,
        (JOB.c.state == JobState.running) & (JOB.c.lease_expires_at < now),
    )
