"""Translation memory in the database (Memory port): exact matches, per tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.store.errors import store_call
from service.store.tables import MemoryEntry


class SqlMemory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @store_call
    async def recall(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        async with self._sessions() as s:
            rows = await s.exec(select(MemoryEntry).where(col(MemoryEntry.key).in_(set(keys))))
            return {row.key: row.target_text for row in rows.all()}

    @store_call
    async def remember(self, tenant_id: str, entries: Mapping[str, str]) -> None:
        if not entries:
            return
        async with self._sessions() as s:
            known = await s.exec(
                select(MemoryEntry.key).where(col(MemoryEntry.key).in_(list(entries)))
            )
            new = set(entries) - set(known.all())
            s.add_all(MemoryEntry(key=k, tenant_id=tenant_id, target_text=entries[k]) for k in new)
            try:
                await s.commit()
            except IntegrityError:  # a concurrent job stored the same segments first
                await s.rollback()
