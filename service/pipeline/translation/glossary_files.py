"""The upload cache: each (account, glossary version, language pair) is compiled and uploaded
once, its file id reused, and replaced when the version changes or the file expires.

Exactly one upload happens even with many workers: the row (`GlossaryFileRecords`) is the lock.
Whoever inserts it (or takes over an expired lease) uploads; everyone else waits until it turns
`ready`. Rows: `uploading` → `ready` (no file id when the pair has no terms) → `stale` (Z.ai
forgot the file) / `deleted` (superseded or evicted). Uploads and deletes go through the
tenant's `Translator`; without a file delete (Truto's proxy) nothing is evicted or deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from service.errors import StoreUnavailable, UpstreamError
from service.glossary.cache_policy import CachePolicy, evictions
from service.glossary.compile import GlossaryCompiler, get_compiler
from service.pipeline.contract.states import FileState
from service.pipeline.ports import DocLoader, GlossaryFileRecords, PairKey, Translator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    previous_file_id: str | None  # the file the new one replaces: deleted after the upload


class UploadCache:
    def __init__(
        self,
        records: GlossaryFileRecords,
        *,
        owner: str,
        policy: CachePolicy | None = None,
        compiler: GlossaryCompiler | None = None,
        on_upload: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._records = records
        self._owner = owner
        self.policy = policy or CachePolicy()
        self._compiler = compiler or get_compiler()
        self._on_upload = on_upload
        self._clock = clock

    async def ensure(self, api: Translator, key: PairKey, load: DocLoader) -> str | None:
        """The file id for `key`, uploading it first if needed; None if the pair has no terms."""
        deadline = asyncio.get_running_loop().time() + 2 * self.policy.lease.total_seconds()
        while True:
            outcome = await self._lookup_or_claim(key)
            if isinstance(outcome, _Claimed):
                return await self._upload(api, key, load, outcome)
            if not isinstance(outcome, _Busy):
                return outcome
            if asyncio.get_running_loop().time() > deadline:
                # The row is the store's lock: a holder that neither finishes nor lets its
                # lease run out reads as a store not answering, so the run waits and retries.
                raise StoreUnavailable(f"glossary upload for {key} did not finish in time")
            await asyncio.sleep(0.1)  # another worker is uploading it

    async def invalidate(self, key: PairKey, file_id: str) -> None:
        """Z.ai no longer knows `file_id`: the next `ensure` uploads again."""
        await self._records.invalidate(key, file_id)

    async def _lookup_or_claim(self, key: PairKey) -> str | _Claimed | _Busy | None:
        """The ready file id (None: no terms), a claim to upload, or `_BUSY` (wait)."""
        now, records, policy = self._clock(), self._records, self.policy
        row = await records.find(key)
        until = now + policy.lease
        if row is None:
            row_id = await records.insert_claim(key, self._owner, until)
            return _BUSY if row_id is None else _Claimed(row_id, None)
        ready = row.state == FileState.ready
        if ready and (row.file_id is None or policy.is_fresh(row.uploaded_at, now)):
            # Eviction needs a rough "last used"; a minute's precision saves a write a request.
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                await records.touch(row.id, now)
            return row.file_id
        if row.state == FileState.uploading and not policy.lease_expired(row.lease_expires_at, now):
            return _BUSY
        # Stale, expiring, failed or abandoned: take it over (one claimant wins).
        if not await records.take_over(row, self._owner, until):
            return _BUSY
        previous = row.file_id if row.state in (FileState.ready, FileState.stale) else None
        return _Claimed(row.id, previous)

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
            await self._records.mark_ready(claim.row_id, file_id, self._clock())
        except BaseException:
            await self._records.set_state(claim.row_id, FileState.failed)
            raise
        logger.info(
            "glossary file uploaded", extra={"file_id": file_id, "version_id": key.version_id}
        )
        if deletable:
            if claim.previous_file_id and claim.previous_file_id != file_id:
                await _delete_upstream(api, claim.previous_file_id)
            await self._delete_superseded(api, key, claim.row_id)
        return file_id

    async def _make_room(self, api: Translator, account: str) -> None:
        cached = await self._records.ready_files(account)
        for victim in evictions(cached, max_files=self.policy.max_files):
            await _delete_upstream(api, victim.file_id)
            await self._records.set_state(victim.row_id, FileState.deleted)

    async def _delete_superseded(self, api: Translator, key: PairKey, current_row: int) -> None:
        """Other versions of the same glossary, same account and pair, are no longer needed."""
        for row_id, file_id in await self._records.superseded(key, current_row):
            if file_id:
                await _delete_upstream(api, file_id)
            await self._records.set_state(row_id, FileState.deleted)


class _Busy:
    """Another worker is uploading the file: wait for it."""


_BUSY = _Busy()


async def _delete_upstream(api: Translator, file_id: str) -> None:
    try:
        await api.delete_file(file_id)
    except UpstreamError:
        # Best effort: an undeleted file only costs a slot until its retention runs out.
        logger.warning("could not delete superseded glossary file", extra={"file_id": file_id})
