"""What the console browses: a tenant's jobs by filter, and its translation memory by text.

Read-only queries (and the one delete of a memory entry), each a function over a connection,
so the console's pages hold no SQL. Pages are `limit` rows plus one more fetched, to know
whether there is a next page without counting every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.store.db import Db, connection_of
from service.store.tables import Glossary, Job, JobTarget, MemoryEntry

JOB = Job.__table__  # type: ignore[attr-defined]
TARGET = JobTarget.__table__  # type: ignore[attr-defined]
MEMORY = MemoryEntry.__table__  # type: ignore[attr-defined]
GLOSSARY = Glossary.__table__  # type: ignore[attr-defined]

JobState = Literal["queued", "running", "completed", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "completed", "failed")


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    offset: int
    more: bool  # a next page exists


@dataclass(frozen=True)
class JobFilter:
    """`state`: queued or running (the job's), completed (done, no language failed) or failed
    (a language failed). `request_id`: a part of it, any case. Days are UTC, inclusive."""

    state: JobState | None = None
    target_lang: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    request_id: str = ""


@dataclass(frozen=True)
class JobRow:
    request_id: str
    state: str
    source_lang: str
    created_at: datetime
    finished_at: datetime | None
    targets: dict[str, str] = field(default_factory=dict)  # language -> pending|completed|failed

    @property
    def outcome(self) -> str:
        """What the list shows: queued, running, completed or failed."""
        if "failed" in self.targets.values():
            return "failed"
        return "completed" if self.state == "done" else self.state


async def jobs(db: Db, tenant: str, where: JobFilter, *, offset: int, limit: int) -> Page[JobRow]:
    """The tenant's jobs matching `where`, newest first, with each language's state."""
    conn = await connection_of(db)
    source = JOB.c.request["source_lang"].as_string()
    query = (
        select(JOB.c.id, JOB.c.request_id, JOB.c.state, source, JOB.c.created_at, JOB.c.finished_at)
        .where(JOB.c.tenant_id == tenant, *_job_conditions(where))
        .order_by(JOB.c.created_at.desc(), JOB.c.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    rows = (await conn.execute(query)).all()[: limit + 1]
    shown = rows[:limit]
    langs: dict[str, dict[str, str]] = {row.id: {} for row in shown}
    if shown:
        targets = select(TARGET.c.job_id, TARGET.c.target_lang, TARGET.c.state).where(
            TARGET.c.job_id.in_(list(langs))
        )
        for job_id, lang, state in await conn.execute(targets.order_by(TARGET.c.target_lang)):
            langs[job_id][lang] = state
    items = [
        JobRow(r.request_id, r.state, r[3] or "auto", r.created_at, r.finished_at, langs[r.id])
        for r in shown
    ]
    return Page(items, offset, len(rows) > limit)


def _job_conditions(where: JobFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    target = select(TARGET.c.job_id).where(TARGET.c.job_id == JOB.c.id)
    failed = exists(target.where(TARGET.c.state == "failed"))
    if where.state in ("queued", "running"):
        conditions.append(JOB.c.state == where.state)
    elif where.state == "completed":
        conditions += [JOB.c.state == "done", ~failed]
    elif where.state == "failed":
        conditions.append(failed)
    if where.target_lang:
        conditions.append(exists(target.where(TARGET.c.target_lang == where.target_lang)))
    if where.first_day:
        conditions.append(JOB.c.created_at >= _midnight(where.first_day))
    if where.last_day:
        conditions.append(JOB.c.created_at < _midnight(where.last_day + timedelta(days=1)))
    if where.request_id:
        needle = where.request_id.lower()
        conditions.append(func.lower(JOB.c.request_id).contains(needle, autoescape=True))
    return conditions


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def job_languages(db: Db, tenant: str) -> list[str]:
    """The target languages the tenant's jobs have (for the list's filter)."""
    conn = await connection_of(db)
    query = (
        select(TARGET.c.target_lang)
        .join(JOB, JOB.c.id == TARGET.c.job_id)
        .where(JOB.c.tenant_id == tenant)
        .distinct()
        .order_by(TARGET.c.target_lang)
    )
    return list((await conn.execute(query)).scalars())


@dataclass(frozen=True)
class MemoryRow:
    key: str
    source_text: str | None  # None: stored before sources were kept (migration 0010)
    target_text: str
    source_lang: str | None
    target_lang: str | None
    glossary_id: str | None
    glossary_name: str | None
    glossary_version: int | None
    created_at: datetime


async def memory(
    db: Db,
    tenant: str,
    text: str,
    *,
    target_lang: str | None = None,
    offset: int,
    limit: int,
) -> Page[MemoryRow]:
    """The tenant's memory entries whose source or translation contains `text` (any case;
    all of them when empty), newest first, with the name of the glossary that made each."""
    conn = await connection_of(db)
    conditions: list[ColumnElement[bool]] = [MEMORY.c.tenant_id == tenant]
    if text:
        needle = text.lower()
        conditions.append(
            or_(
                func.lower(MEMORY.c.source_text).contains(needle, autoescape=True),
                func.lower(MEMORY.c.target_text).contains(needle, autoescape=True),
            )
        )
    if target_lang:
        conditions.append(MEMORY.c.target_lang == target_lang)
    named = and_(GLOSSARY.c.id == MEMORY.c.glossary_id, GLOSSARY.c.tenant_id == tenant)
    query = (
        select(*_MEMORY_COLUMNS, GLOSSARY.c.name)
        .select_from(MEMORY.outerjoin(GLOSSARY, named))
        .where(*conditions)
        .order_by(MEMORY.c.created_at.desc(), MEMORY.c.key)
        .offset(offset)
        .limit(limit + 1)
    )
    rows = (await conn.execute(query)).mappings().all()
    items = [_memory_row(r) for r in rows[:limit]]
    return Page(items, offset, len(rows) > limit)


_MEMORY_COLUMNS: Sequence[Any] = [
    MEMORY.c[name]
    for name in (
        "key",
        "source_text",
        "target_text",
        "source_lang",
        "target_lang",
        "glossary_id",
        "glossary_version",
        "created_at",
    )
]


def _memory_row(r: Any) -> MemoryRow:
    return MemoryRow(
        key=r["key"],
        source_text=r["source_text"],
        target_text=r["target_text"],
        source_lang=r["source_lang"],
        target_lang=r["target_lang"],
        glossary_id=r["glossary_id"],
        glossary_name=r["name"],
        glossary_version=r["glossary_version"],
        created_at=r["created_at"],
    )


async def forget(db: Db, tenant: str, key: str) -> bool:
    """Delete one of the tenant's memory entries (the next request translates it again);
    False if the tenant has no entry of that key. A session is committed; the caller of a
    connection commits."""
    conn = await connection_of(db)
    statement = delete(MEMORY).where(MEMORY.c.key == key, MEMORY.c.tenant_id == tenant)
    removed = bool((await conn.execute(statement)).rowcount)
    if isinstance(db, AsyncSession):
        await db.commit()
    return removed


async def job_request(db: Db, tenant: str, request_id: str) -> dict[str, Any] | None:
    """The request a job was made from, as stored (the console shows its sources)."""
    conn = await connection_of(db)
    query = select(JOB.c.request).where(JOB.c.tenant_id == tenant, JOB.c.request_id == request_id)
    found = (await conn.execute(query)).scalar_one_or_none()
    return dict(found) if found is not None else None
