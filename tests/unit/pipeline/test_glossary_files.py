"""The upload cache's decisions over in-memory rows (the SQL rows: tests/integration/
test_upload_cache.py): one upload per pair, a busy row waited for, a forgotten file replaced
and deleted upstream, nothing evicted or deleted through a connection without a file delete."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from service.glossary.cache_policy import CachePolicy
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.pipeline.contract.states import FileState
from service.pipeline.ports import PairKey
from service.pipeline.translation.glossary_files import UploadCache
from tests.unit.pipeline.fakes import FakeGlossaryFileRecords, ScriptedZai

KEY = PairKey("acct", 7, "en", "de")
DOC = GlossaryDocument("en", (GlossaryEntry("invoice", {"de": "Rechnung"}),))


async def load() -> GlossaryDocument:
    return DOC


async def test_many_callers_make_one_upload_and_reuse_its_id() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    cache, client = UploadCache(records, owner="w1"), zai.client()
    ids = await asyncio.gather(*(cache.ensure(client, KEY, load) for _ in range(10)))
    assert set(ids) == {"file-1"} and zai.uploads == 1
    assert records.rows[KEY].state is FileState.ready


async def test_a_pair_without_terms_uploads_nothing() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    cache = UploadCache(records, owner="w1")
    assert await cache.ensure(zai.client(), PairKey("acct", 7, "en", "fr"), load) is None
    assert zai.uploads == 0


async def test_a_forgotten_file_is_uploaded_again_and_the_old_one_deleted() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    cache, client = UploadCache(records, owner="w1"), zai.client()
    first = await cache.ensure(client, KEY, load)
    await cache.invalidate(KEY, "file-1")
    assert await cache.ensure(client, KEY, load) == "file-2" != first
    assert zai.deleted == ["file-1"]


async def test_an_upload_under_way_elsewhere_is_waited_for() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    now = datetime.now(UTC)
    row_id = await records.insert_claim(KEY, "w2", now + timedelta(seconds=60))
    assert row_id is not None
    cache = UploadCache(records, owner="w1")
    waiting = asyncio.create_task(cache.ensure(zai.client(), KEY, load))
    await asyncio.sleep(0.15)
    assert not waiting.done()  # w2 holds the lease
    await records.mark_ready(row_id, "file-w2", now)
    assert await waiting == "file-w2" and zai.uploads == 0


async def test_an_abandoned_upload_is_taken_over() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await records.insert_claim(KEY, "w2", past)  # w2 died: its lease has run out
    cache = UploadCache(records, owner="w1", policy=CachePolicy())
    assert await cache.ensure(zai.client(), KEY, load) == "file-1"


async def test_without_a_file_delete_nothing_is_deleted_or_evicted() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    client = zai.client()

    async def no_delete() -> bool:
        return False

    client.can_delete_files = no_delete  # type: ignore[method-assign]
    cache = UploadCache(records, owner="w1", policy=CachePolicy(max_files=1))
    await cache.ensure(client, KEY, load)
    await cache.ensure(client, replace(KEY, target_lang="es"), load)  # no terms: no upload
    await cache.invalidate(KEY, "file-1")
    assert await cache.ensure(client, KEY, load) == "file-2"
    assert zai.deleted == []


async def test_the_least_recently_used_file_makes_room() -> None:
    zai, records = ScriptedZai(), FakeGlossaryFileRecords()
    cache, client = UploadCache(records, owner="w1", policy=CachePolicy(max_files=1)), zai.client()
    await cache.ensure(client, KEY, load)
    await cache.ensure(client, replace(KEY, version_id=8), load)
    assert zai.deleted == ["file-1"]
    assert records.rows[KEY].state is FileState.deleted
