"""The upload cache's rows (GlossaryFileRecords port): one `zai_file` row per (account,
glossary version, language pair). Its unique key makes an upload happen once across workers:
an insert that loses the race, or a take-over whose row changed meanwhile, claims nothing.
What to do with a row is decided in `service.pipeline.translation.glossary_files`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary.cache_policy import CachedFile
from service.pipeline.contract.states import FileState
from service.pipeline.ports import FileRecord, PairKey
from service.store.errors import store_call
from service.store.tables import GlossaryVersion, ZaiFile


class SqlGlossaryFiles:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @store_call
    async def find(self, key: PairKey) -> FileRecord | None:
        async with self._sessions() as s:
            row = (await s.exec(select(ZaiFile).where(_match(key)))).first()
        if row is None:
            return None
        assert row.id is not None
        return FileRecord(
            row.id,
            FileState(row.state),
            row.file_id,
            row.uploaded_at,
            row.last_used_at,
            row.lease_expires_at,
        )

    @store_call
    async def insert_claim(self, key: PairKey, owner: str, until: datetime) -> int | None:
        row = ZaiFile(
            account=key.account,
            version_id=key.version_id,
            source_lang=key.source_lang,
            target_lang=key.target_lang,
            state=FileState.uploading,
            lease_owner=owner,
            lease_expires_at=until,
        )
        async with self._sessions() as s:
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:
                return None  # someone else inserted it first
            return row.id

    @store_call
    async def take_over(self, record: FileRecord, owner: str, until: datetime) -> bool:
        lease = col(ZaiFile.lease_expires_at)
        async with self._sessions() as s:
            result = await s.exec(
                update(ZaiFile)
                .where(
                    col(ZaiFile.id) == record.id,
                    col(ZaiFile.state) == record.state,
                    lease.is_(None)
                    if record.lease_expires_at is None
                    else lease == record.lease_expires_at,
                )
                .values(state=FileState.uploading, lease_owner=owner, lease_expires_at=until)
            )
            await s.commit()
        return bool(result.rowcount == 1)

    @store_call
    async def touch(self, row_id: int, now: datetime) -> None:
        await self._update(row_id, last_used_at=now)

    @store_call
    async def mark_ready(self, row_id: int, file_id: str | None, now: datetime) -> None:
        await self._update(
            row_id,
            state=FileState.ready,
            file_id=file_id,
            uploaded_at=now,
            last_used_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )

    @store_call
    async def set_state(self, row_id: int, state: FileState) -> None:
        await self._update(row_id, state=state, lease_owner=None, lease_expires_at=None)

    @store_call
    async def ready_files(self, account: str) -> list[CachedFile]:
        async with self._sessions() as s:
            rows = (
                await s.exec(
                    select(ZaiFile).where(
                        ZaiFile.account == account,
                        ZaiFile.state == FileState.ready,
                        col(ZaiFile.file_id).is_not(None),
                    )
                )
            ).all()
        return [CachedFile(r.id or 0, r.file_id or "", r.last_used_at) for r in rows]

    @store_call
    async def superseded(self, key: PairKey, current_row: int) -> list[tuple[int, str | None]]:
        async with self._sessions() as s:
            glossary_id = (
                await s.exec(
                    select(GlossaryVersion.glossary_id).where(GlossaryVersion.id == key.version_id)
                )
            ).one()
            siblings = select(GlossaryVersion.id).where(
                GlossaryVersion.glossary_id == glossary_id, GlossaryVersion.id != key.version_id
            )
            rows = (
                await s.exec(
                    select(ZaiFile).where(
                        ZaiFile.account == key.account,
                        ZaiFile.source_lang == key.source_lang,
                        ZaiFile.target_lang == key.target_lang,
                        col(ZaiFile.version_id).in_(siblings),
                        col(ZaiFile.state).in_([FileState.ready, FileState.stale]),
                        ZaiFile.id != current_row,
                    )
                )
            ).all()
        return [(r.id or 0, r.file_id) for r in rows]

    @store_call
    async def invalidate(self, key: PairKey, file_id: str) -> None:
        async with self._sessions() as s:
            await s.exec(
                update(ZaiFile)
                .where(_match(key), col(ZaiFile.file_id) == file_id)
                .values(state=FileState.stale)
            )
            await s.commit()

    async def _update(self, row_id: int, **values: Any) -> None:
        async with self._sessions() as s:
            await s.exec(update(ZaiFile).where(col(ZaiFile.id) == row_id).values(**values))
            await s.commit()


def _match(key: PairKey) -> ColumnElement[bool]:
    return (
        (col(ZaiFile.account) == key.account)
        & (col(ZaiFile.version_id) == key.version_id)
        & (col(ZaiFile.source_lang) == key.source_lang)
        & (col(ZaiFile.target_lang) == key.target_lang)
    )
