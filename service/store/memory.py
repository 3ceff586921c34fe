"""Translation memory in the database (Memory port): exact matches, per tenant.

Look-ups of concurrent jobs are grouped (`GroupCommit`): one script answers the keys of every
job that asked meanwhile. New entries are written with the worker's write batch
(service.store.writes): with a job's completion, or, for a run that remembers on its own, in
the next flush.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.pipeline.ports import Remembered
from service.store.driver import Database, Script, fetch_each
from service.store.group_commit import GroupCommit
from service.store.writes import WriteBatch

RECALL = "SELECT key, target_text FROM translation_memory WHERE key = ?"


class SqlMemory:
    def __init__(self, db: Database, writes: WriteBatch) -> None:
        self._db = db
        self._writes = writes
        # No window: a look-up starts at once; those asked while it runs go together next.
        self._reads = GroupCommit(self._recall_many, window=0.0)

    async def recall(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        return await self._reads.submit(keys)

    async def remember(self, tenant_id: str, entries: Mapping[str, Remembered]) -> None:
        await self._writes.remember(tenant_id, entries)

    async def _recall_many(self, asks: Sequence[Sequence[str]]) -> list[dict[str, str]]:
        wanted = sorted({k for keys in asks for k in keys})
        found = await self._db.run(_recall(wanted), transaction=False)
        return [{k: found[k] for k in keys if k in found} for keys in asks]


def _recall(keys: Sequence[str]) -> Script[dict[str, str]]:
    rows = yield fetch_each(RECALL, [(k,) for k in keys])
    return {key: text for key, text in rows}
