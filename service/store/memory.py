"""Translation memory in the database (Memory port): exact matches, per tenant.

Look-ups and stores of concurrent jobs are grouped (`GroupCommit`): one SELECT answers the
keys of every job that asked within a few milliseconds, one INSERT … ON CONFLICT DO NOTHING
stores their new entries, so memory costs two statements per batch of jobs, not per job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.ports import Remembered
from service.store.db import engine_of, reader
from service.store.errors import store_call
from service.store.group_commit import GroupCommit
from service.store.tables import MemoryEntry, utcnow

MEMORY = MemoryEntry.__table__  # type: ignore[attr-defined]


class SqlMemory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine_of(sessions)
        self._reader = reader(self._engine)
        self._reads = GroupCommit(self._recall_many)
        self._writes = GroupCommit(self._remember_many)

    async def recall(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        return await self._reads.submit(keys)

    async def remember(self, tenant_id: str, entries: Mapping[str, Remembered]) -> None:
        if entries:
            await self._writes.submit((tenant_id, entries))

    @store_call
    async def _recall_many(self, asks: Sequence[Sequence[str]]) -> list[dict[str, str]]:
        wanted = sorted({k for keys in asks for k in keys})
        found: dict[str, str] = {}
        async with self._reader.connect() as conn:
            for i in range(0, len(wanted), 500):  # bounded IN lists
                query = select(MEMORY.c.key, MEMORY.c.target_text).where(
                    MEMORY.c.key.in_(wanted[i : i + 500])
                )
                found.update({key: text for key, text in await conn.execute(query)})
        return [{k: found[k] for k in keys if k in found} for keys in asks]

    @store_call
    async def _remember_many(
        self, batch: Sequence[tuple[str, Mapping[str, Remembered]]]
    ) -> list[None]:
        now, rows = utcnow(), dict[str, dict[str, Any]]()
        for tenant_id, entries in batch:
            for key, e in entries.items():
                rows.setdefault(key, {"key": key, "tenant_id": tenant_id, **_columns(e)})
        async with self._engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            # A key stored already (another job, another worker) keeps its first translation.
            statement = insert(MEMORY).on_conflict_do_nothing(index_elements=["key"])
            await conn.execute(statement, [{**r, "created_at": now} for r in rows.values()])
        return [None] * len(batch)


def _columns(e: Remembered) -> dict[str, Any]:
    return {
        "target_text": e.target_text,
        "source_text": e.source_text,
        "source_lang": e.source_lang,
        "target_lang": e.target_lang,
        "glossary_id": e.glossary_id,
        "glossary_version": e.glossary_version,
    }
