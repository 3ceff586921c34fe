"""Housekeeping: finished jobs, sent outbox rows and old memory entries do not pile up forever.

Pruning a finished job also ends its idempotency: a duplicate of that request arriving after
the retention period is translated again (documented in README's settings table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.contract.states import JobState
from service.store.tables import Job, JobTarget, MemoryEntry, OutboxEvent


@dataclass(frozen=True)
class Retention:
    jobs: timedelta
    memory: timedelta
    outbox: timedelta


async def prune(session: AsyncSession, retention: Retention, now: datetime) -> dict[str, int]:
    """Delete what is past its retention; returns how many rows of each kind went."""
    old_jobs = select(Job.id).where(
        col(Job.state) == JobState.done, col(Job.finished_at) < now - retention.jobs
    )
    targets = await session.exec(delete(JobTarget).where(col(JobTarget.job_id).in_(old_jobs)))
    jobs = await session.exec(
        delete(Job).where(
            col(Job.state) == JobState.done, col(Job.finished_at) < now - retention.jobs
        )
    )
    memory = await session.exec(
        delete(MemoryEntry).where(col(MemoryEntry.created_at) < now - retention.memory)
    )
    outbox = await session.exec(
        delete(OutboxEvent).where(col(OutboxEvent.sent_at) < now - retention.outbox)
    )
    await session.commit()
    return {
        "jobs": jobs.rowcount,
        "job_targets": targets.rowcount,
        "memory": memory.rowcount,
        "outbox": outbox.rowcount,
    }
