"""Jobs in the database: the inbox the consumer fills and the executor drains (JobStore port).

A job is written, in the same transaction as its batch's dead letters, before the batch's
offsets are committed (service.store.inbox); from then on the database, not Kafka, holds the
work. Claims are leases: a worker that dies simply stops renewing, and another worker takes
the job over. Completions go through the worker's write batch (service.store.writes).

Every method is one script on the hot-path driver (service.store.driver): one hop to
SQLite's thread, or a few statements on one asyncpg connection. `find` and `targets` are the
job status API's reads, on SQLAlchemy like the rest of the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent, Outcome, state_of
from service.pipeline.contract.states import TargetState
from service.pipeline.ports import Accepted, Arrival, Candidate, ClaimedJob, Completion, Target
from service.store import inbox
from service.store.driver import (
    Database,
    Dialect,
    Row,
    Script,
    UniqueViolation,
    execute,
    fetch,
    script_of,
)
from service.store.tables import Job, JobTarget, utcnow
from service.store.writes import WriteBatch

Choose = Callable[[list[Candidate]], list[Candidate]]


async def find(session: AsyncSession, tenant_id: str, request_id: str) -> Job | None:
    query = select(Job).where(Job.tenant_id == tenant_id, Job.request_id == request_id)
    return (await session.exec(query)).first()


async def targets(session: AsyncSession, job_id: str) -> list[JobTarget]:
    query = select(JobTarget).where(JobTarget.job_id == job_id).order_by(col(JobTarget.target_lang))
    return list((await session.exec(query)).all())


def claimable(d: Dialect) -> str:
    s = f"{d.not_indexed}state"
    return f"({s} = 'queued' OR ({s} = 'running' AND lease_expires_at < ?))"


def held(d: Dialect) -> str:
    return f"lease_owner = ? AND {d.not_indexed}state = 'running'"


# The oldest claimable jobs: the queued ones in index order (a look at `limit` rows, whatever
# the backlog; an OR of both states made SQLite and PostgreSQL read and sort every queued
# job), then the few running ones whose lease expired.
CANDIDATES = (
    "SELECT id, tenant_id, created_at FROM (SELECT id, tenant_id, created_at FROM job"
    " WHERE state = 'queued' ORDER BY created_at LIMIT ?) AS queued"
    " UNION ALL SELECT id, tenant_id, created_at FROM (SELECT id, tenant_id, created_at FROM job"
    " WHERE state = 'running' AND lease_expires_at < ? ORDER BY created_at LIMIT ?) AS expired"
    " ORDER BY created_at LIMIT ?"
)
CLAIMED = (
    "id, tenant_id, request_id, request, created_at, attempts, glossary_id, glossary_version,"
    " trace_context, lease_owner"
)


class SqlJobStore:
    def __init__(self, db: Database, writes: WriteBatch) -> None:
        self._db, self._writes = db, writes
        d = db.dialect
        free = f"SELECT id FROM job WHERE {d.any('id')} AND {claimable(d)}{d.skip_locked}"
        self._claim_sql = (
            "UPDATE job SET state = 'running', lease_owner = ?, lease_expires_at = ?,"
            f" attempts = attempts + 1, updated_at = ? WHERE id IN ({free}) AND {claimable(d)}"
            f" RETURNING {CLAIMED}"
        )
        self._renew_sql = (
            f"UPDATE job SET lease_expires_at = ? WHERE {d.any('id')} AND {held(d)} RETURNING id"
        )
        self._release_sql = (
            "UPDATE job SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL"
            f" WHERE {d.any('id')} AND {held(d)}"
        )
        self._targets_sql = (
            "SELECT job_id, target_lang, state, outcome, async_ids FROM job_target"
            f" WHERE {d.any('job_id')}"
        )

    async def accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], results_topic: str
    ) -> Accepted:
        """One transaction per batch; if a concurrent writer beat us to a job, one per arrival."""
        try:
            return await self._accept(arrivals, dead_letters, results_topic)
        except UniqueViolation:
            return await self._accept_one_by_one(arrivals, dead_letters, results_topic)

    async def _accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], topic: str
    ) -> Accepted:
        d = self._db.dialect
        return await self._db.run(inbox.accept(d, arrivals, dead_letters, topic, utcnow()))

    async def _accept_one_by_one(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], topic: str
    ) -> Accepted:
        # The dead letters go with the first transaction, each arrival in its own.
        total = await self._accept([], dead_letters, topic)
        for arrival in arrivals:
            try:
                total += await self._accept([arrival], [], topic)
            except UniqueViolation:
                # The other writer created it meanwhile: now it is found, as a duplicate or
                # a conflict.
                total += await self._accept([arrival], [], topic)
        return total

    async def backlog(self) -> int:
        statement = fetch("SELECT count(*) FROM job WHERE state IN ('queued', 'running')")
        [(count,)] = await self._db.run(script_of(statement), transaction=False)
        return int(count)

    async def candidates(self, limit: int) -> list[Candidate]:
        return await self._db.run(self._candidates(limit, utcnow()), transaction=False)

    async def claim(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> list[ClaimedJob]:
        """One UPDATE … RETURNING claims and reads the jobs won; one SELECT their targets.
        Rows another transaction has locked (a claim, a completion, an async id being saved)
        are skipped, not waited for: workers claiming the same candidates in another order
        deadlocked on PostgreSQL. SQLite has no row locks, nor this clause."""
        if not job_ids:
            return []
        script = self._claim(list(job_ids), owner, lease, utcnow())
        return await self._db.run(script, transaction=False)

    async def claim_next(
        self, choose: Choose, limit: int, owner: str, lease: timedelta
    ) -> list[ClaimedJob]:
        """`candidates(limit)`, `choose` among them (a pure decision: it runs wherever the
        script does), `claim` the chosen: one hop on SQLite, three statements on PostgreSQL,
        each its own transaction (the claim alone decides who wins)."""
        return await self._db.run(self._claim_next(choose, limit, owner, lease), transaction=False)

    def _claim_next(
        self, choose: Choose, limit: int, owner: str, lease: timedelta
    ) -> Script[list[ClaimedJob]]:
        now = utcnow()
        chosen = choose((yield from self._candidates(limit, now)))
        if not chosen:
            return []
        return (yield from self._claim([c.job_id for c in chosen], owner, lease, now))

    def _candidates(self, limit: int, now: datetime) -> Script[list[Candidate]]:
        rows = yield fetch(CANDIDATES, limit, self._db.dialect.time(now), limit, limit)
        return [Candidate(job_id, tenant) for job_id, tenant, _ in rows]

    def _claim(
        self, job_ids: list[str], owner: str, lease: timedelta, now: datetime
    ) -> Script[list[ClaimedJob]]:
        d = self._db.dialect
        t = d.time(now)
        args = (owner, d.time(now + lease), t, d.array(job_ids), t, t)
        won = yield fetch(self._claim_sql, *args)
        if not won:
            return []
        rows = yield fetch(self._targets_sql, d.array([j[0] for j in won]))
        by_job: dict[str, list[Target]] = {}
        for job_id, lang, state, outcome, async_ids in rows:
            target = Target(lang, TargetState(state), _loads(outcome), _loads(async_ids) or {})
            by_job.setdefault(job_id, []).append(target)
        return [_claimed(d, job, by_job.get(job[0], [])) for job in won]

    async def renew(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> set[str]:
        if not job_ids:
            return set()
        d = self._db.dialect
        statement = fetch(
            self._renew_sql,
            d.time(utcnow() + lease),
            d.array(list(job_ids)),
            owner,
        )
        rows = await self._db.run(script_of(statement), transaction=False)
        return {row[0] for row in rows}

    async def release(self, job_ids: Sequence[str], owner: str) -> None:
        if not job_ids:
            return
        d = self._db.dialect
        statement = execute(
            self._release_sql,
            d.array(list(job_ids)),
            owner,
        )
        await self._db.run(script_of(statement), transaction=False)

    async def save_async_id(
        self, job_id: str, lang: str, call_key: str, async_id: str, owner: str
    ) -> bool:
        """The job row is locked first, as a claim's UPDATE locks it: either this id is
        committed before another worker's claim reads the job's targets, or the claim came
        first and nothing is written. The target row is locked too: a language's calls save
        their ids side by side, and without it the later commit drops the other's id.
        (SQLite has no FOR UPDATE; its writers run one at a time.)"""
        script = _save_async_id(self._db.dialect, job_id, lang, call_key, async_id, owner)
        return await self._db.run(script)

    async def finish_target(self, job_id: str, lang: str, outcome: Outcome) -> None:
        d = self._db.dialect
        statement = execute(
            "UPDATE job_target SET state = ?, outcome = ?, updated_at = ?"
            " WHERE job_id = ? AND target_lang = ?",
            str(state_of(outcome)),
            outcome.model_dump_json(),
            d.time(utcnow()),
            job_id,
            lang,
        )
        await self._db.run(script_of(statement), transaction=False)

    async def complete(self, completion: Completion) -> bool:
        """Written with whatever else is being written now (service.store.writes)."""
        return await self._writes.complete(completion)


def _save_async_id(
    d: Dialect, job_id: str, lang: str, call_key: str, async_id: str, owner: str
) -> Script[bool]:
    mine = yield fetch(
        f"SELECT id FROM job WHERE id = ? AND {held(d)}{d.for_update}", job_id, owner
    )
    if not mine:
        return False
    [(ids,)] = yield fetch(
        f"SELECT async_ids FROM job_target WHERE job_id = ? AND target_lang = ?{d.for_update}",
        job_id,
        lang,
    )
    merged = {**(_loads(ids) or {}), call_key: async_id}
    yield execute(
        "UPDATE job_target SET async_ids = ?, updated_at = ? WHERE job_id = ? AND target_lang = ?",
        orjson.dumps(merged).decode(),
        d.time(utcnow()),
        job_id,
        lang,
    )
    return True


def _claimed(d: Dialect, job: Row, job_targets: list[Target]) -> ClaimedJob:
    job_id, tenant, rid, request, created, attempts, gid, gversion, trace, owner = job
    return ClaimedJob(
        id=job_id,
        tenant_id=tenant,
        request_id=rid,
        request=TranslationRequestV1.model_validate_json(request),
        created_at=d.read_time(created),
        attempts=attempts,
        glossary_id=gid,
        glossary_version=gversion,
        targets=sorted(job_targets, key=lambda t: t.lang),
        trace=_loads(trace) or {},
        owner=owner,
    )


def _loads(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)
