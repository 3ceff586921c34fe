"""Housekeeping on both databases: only what is finished and past its retention goes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from service.store.db import session_factory
from service.store.retention import Retention, prune
from service.store.tables import Job, JobTarget, MemoryEntry, OutboxEvent, utcnow

pytestmark = pytest.mark.postgres
DAY = timedelta(days=1)


def job(jid: str, state: str, finished_days_ago: float | None) -> Job:
    finished = utcnow() - finished_days_ago * DAY if finished_days_ago is not None else None
    return Job(
        id=jid,
        tenant_id="acme",
        request_id=jid,
        state=state,
        request={},
        source_topic="t",
        source_partition=0,
        source_offset=0,
        finished_at=finished,
    )


async def test_prune_keeps_recent_and_unfinished_work(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    now = utcnow()
    async with sessions() as s:
        s.add_all(
            [
                job("old-done", "done", 40),
                job("new-done", "done", 1),
                job("old-queued", "queued", None),
            ]
        )
        await s.flush()
        s.add_all(
            [
                JobTarget(job_id=j, target_lang="de", state="completed")
                for j in ("old-done", "new-done", "old-queued")
            ]
        )
        s.add_all(
            [
                MemoryEntry(
                    key="old", tenant_id="acme", target_text="x", created_at=now - 200 * DAY
                ),
                MemoryEntry(key="new", tenant_id="acme", target_text="y", created_at=now - DAY),
                OutboxEvent(topic="t", payload={}, sent_at=now - 2 * DAY),
                OutboxEvent(topic="t", payload={}, sent_at=now - timedelta(hours=1)),
                OutboxEvent(topic="t", payload={}, created_at=now - 9 * DAY),  # never sent: kept
            ]
        )
        await s.commit()
    async with sessions() as s:
        removed = await prune(s, Retention(jobs=30 * DAY, memory=180 * DAY, outbox=DAY), now)
    assert removed == {"jobs": 1, "job_targets": 1, "memory": 1, "outbox": 1}
    async with sessions() as s:
        assert sorted(j.id for j in (await s.exec(select(Job))).all()) == ["new-done", "old-queued"]
        assert len((await s.exec(select(JobTarget))).all()) == 2
        assert [m.key for m in (await s.exec(select(MemoryEntry))).all()] == ["new"]
        assert len((await s.exec(select(OutboxEvent))).all()) == 2
