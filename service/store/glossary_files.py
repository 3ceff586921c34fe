"""The Z.ai upload cache (GlossaryFiles port): each (account, glossary version, language pair)
is compiled and uploaded once, its file id reused, and replaced when the version changes or
the file expires.

Exactly one upload happens even with many workers: the `zai_file` row is the lock. Whoever
inserts it (or takes over an expired lease with a conditional UPDATE) uploads; everyone else
waits until the row turns `ready`. Rows: `uploading` → `ready` (file_id None when the pair has
no terms) → `stale` (Z.ai forgot the file) / `deleted` (superseded or evicted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import UpstreamError
from service.glossary.cache_policy import CachedFile, CachePolicy, evictions
from service.glossary.compile import GlossaryCompiler, get_compiler
from service.pipeline.contract.states import FileState
from service.pipeline.ports import DocLoader, PairKey, Translator
from service.store.errors import store_call, unavailable_as_store_error
from service.store.tables import GlossaryVersion, ZaiFile, utcnow

logger = logging.getLogger(__name__)

READY, UPLOADING, STALE = FileState.ready, FileState.uploading, FileState.stale
DELETED, FAILED = FileState.deleted, FileState.failed


class UploadCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        owner: str,
        policy: CachePolicy | None = None,
        compiler: GlossaryCompiler | None = None,
        on_upload: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._owner = owner
        self.policy = policy or CachePolicy()
        self._compiler = compiler or get_compiler()
        self._on_upload = on_upload

    async def ensure(self, api: Translator, key: PairKey, load: DocLoader) -> str | None:
        """The file id for `key`, uploading it first if needed; None if the pair has no terms."""
        with unavailable_as_store_error():
            return await self._ensure(api, key, load)

    async def _ensure(self, api: Translator, key: PairKey, load: DocLoader) -> str | None:
        deadline = asyncio.get_running_loop().time() + 2 * self.policy.lease.total_seconds()
        while True:
            outcome = await self._lookup_or_claim(key)
            if isinstance(outcome, _Ready):
                return outcome.file_id
            if isinstance(outcome, _Claimed):
                return await self._upload(api, key, load, outcome)
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"glossary upload for {key} did not finish in time")
            await asyncio.sleep(0.1)  # another worker is uploading it

    @store_call
    async def invalidate(self, key: PairKey, file_id: str) -> None:
        """Z.ai no longer knows `file_id`: the next `ensure` uploads again."""
        async with self._sessions() as s:
            await s.exec(
                update(ZaiFile)
                .where(_match(key), col(ZaiFile.file_id) == file_id)
                .values(state=STALE)
            )
            await s.commit()

    async def _lookup_or_claim(self, key: PairKey) -> _Ready | _Claimed | None:
        now = utcnow()
        async with self._sessions() as s:
            row = (await s.exec(select(ZaiFile).where(_match(key)))).first()
            if row is None:
                return await self._insert_claim(s, key, now)
            if row.state == READY and (
                row.file_id is None or self.policy.is_fresh(row.uploaded_at, now)
            ):
                await self._touch(s, row, now)
                return _Ready(row.file_id)
            if row.state == UPLOADING and not self.policy.lease_expired(row.lease_expires_at, now):
                return None
            return await self._take_over(s, row, now)

    async def _insert_claim(self, s: AsyncSession, key: PairKey, now: datetime) -> _Claimed | None:
        row = ZaiFile(
            account=key.account,
            version_id=key.version_id,
            source_lang=key.source_lang,
            target_lang=key.target_lang,
            state=UPLOADING,
            lease_owner=self._owner,
            lease_expires_at=now + self.policy.lease,
        )
        s.add(row)
        try:
            await s.commit()
        except IntegrityError:
            return None  # someone else inserted it first
        assert row.id is not None
        return _Claimed(row.id, None)

    async def _take_over(self, s: AsyncSession, row: ZaiFile, now: datetime) -> _Claimed | None:
        """Claim a row that is stale, expiring, failed or abandoned: only one claimant wins."""
        # Read before the UPDATE: the session synchronizes `row` with what it writes.
        previous = row.file_id if row.state in (READY, STALE) else None
        row_id = row.id
        result = await s.exec(
            update(ZaiFile)
            .where(
                col(ZaiFile.id) == row_id,
                col(ZaiFile.state) == row.state,
                col(ZaiFile.lease_expires_at).is_(None)
                if row.lease_expires_at is None
                else col(ZaiFile.lease_expires_at) == row.lease_expires_at,
            )
            .values(
                state=UPLOADING, lease_owner=self._owner, lease_expires_at=now + self.policy.lease
            )
        )
        await s.commit()
        if result.rowcount != 1:
            return None
        assert row_id is not None
        return _Claimed(row_id, previous)

    async def _touch(self, s: AsyncSession, row: ZaiFile, now: datetime) -> None:
        # Eviction needs a rough "last used"; a minute's precision saves a write per request.
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
            await s.commit()

    async def _upload(
        self, api: Translator, key: PairKey, load: DocLoader, claim: _Claimed
    ) -> str | None:
        try:
            compiled = self._compiler.compile(await load(), key.source_lang, key.target_lang)
            file_id = None
            # Without a file delete (Truto's proxy) nothing is evicted or deleted: old files
            # stay until Z.ai's retention ends them (docs/truto.md, the 100-file limit).
            deletable = await api.can_delete_files()
            if compiled.entry_count:
                if deletable:
                    await self._make_room(api, key.account)
                file_id = (await api.upload_file(compiled.filename, compiled.content)).id
                if self._on_upload:
                    self._on_upload()
            await self._mark_ready(claim.row_id, file_id)
        except BaseException:
            await self._set_state(claim.row_id, FAILED)
            raise
        logger.info(
            "glossary file uploaded", extra={"file_id": file_id, "version_id": key.version_id}
        )
        if deletable:
            if claim.previous_file_id and claim.previous_file_id != file_id:
                await _delete_upstream(api, claim.previous_file_id)
            await self._delete_superseded(api, key, claim.row_id)
        return file_id

    async def _mark_ready(self, row_id: int, file_id: str | None) -> None:
        now = utcnow()
        async with self._sessions() as s:
            await s.exec(
                update(ZaiFile)
                .where(col(ZaiFile.id) == row_id)
                .values(
                    state=READY,
                    file_id=file_id,
                    uploaded_at=now,
                    last_used_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            await s.commit()

    async def _set_state(self, row_id: int, state: str) -> None:
        async with self._sessions() as s:
            await s.exec(
                update(ZaiFile)
                .where(col(ZaiFile.id) == row_id)
                .values(state=state, lease_owner=None, lease_expires_at=None)
            )
            await s.commit()

    async def _make_room(self, api: Translator, account: str) -> None:
        async with self._sessions() as s:
            rows = (
                await s.exec(
                    select(ZaiFile).where(
                        ZaiFile.account == account,
                        ZaiFile.state == READY,
                        col(ZaiFile.file_id).is_not(None),
                    )
                )
            ).all()
        cached = [CachedFile(r.id or 0, r.file_id or "", r.last_used_at) for r in rows]
        for victim in evictions(cached, max_files=self.policy.max_files):
            await _delete_upstream(api, victim.file_id)
            await self._set_state(victim.row_id, DELETED)

    async def _delete_superseded(self, api: Translator, key: PairKey, current_row: int) -> None:
        """Other versions of the same glossary, same account and pair, are no longer needed."""
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
                        col(ZaiFile.state).in_([READY, STALE]),
                        ZaiFile.id != current_row,
                    )
                )
            ).all()
        for row in rows:
            if row.file_id:
                await _delete_upstream(api, row.file_id)
            assert row.id is not None
            await self._set_state(row.id, DELETED)


@dataclass(frozen=True)
class _Ready:
    file_id: str | None


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    previous_file_id: str | None


def _match(key: PairKey):  # type: ignore[no-untyped-def]
    return (
        (col(ZaiFile.account) == key.account)
        & (col(ZaiFile.version_id) == key.version_id)
        & (col(ZaiFile.source_lang) == key.source_lang)
        & (col(ZaiFile.target_lang) == key.target_lang)
    )


async def _delete_upstream(api: Translator, file_id: str) -> None:
    try:
        await api.delete_file(file_id)
    except UpstreamError:
        # Best effort: an undeleted file only costs a slot until its retention runs out.
        logger.warning("could not delete superseded glossary file", extra={"file_id": file_id})
