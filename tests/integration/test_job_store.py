"""The job store's writes that race: side by side in one worker, or against a takeover."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent
from service.pipeline.ports import Arrival, ClaimedJob
from service.store import jobs
from service.store.db import create_engine, session_factory
from service.store.driver import Database, open_database
from service.store.jobs import SqlJobStore
from service.store.migrate import upgrade
from tests.fixtures.databases import job_store
from tests.support.pipeline import request

pytestmark = pytest.mark.postgres


async def claimed(store: SqlJobStore, rid: str, owner: str, lease: float = 60) -> ClaimedJob:
    req = TranslationRequestV1.model_validate(request(rid, target_langs=["de", "fr"]))
    await store.accept([Arrival(req, "requests", 0, 0, no_conflict)], [], "results")
    [candidate] = await store.candidates(100)
    [job] = await store.claim([candidate.job_id], owner, timedelta(seconds=lease))
    return job


async def test_async_ids_saved_at_once_for_one_language_are_all_kept(
    engine: AsyncEngine, db: Database
) -> None:
    # One language's packed calls run concurrently and each saves its async id as Z.ai hands
    # it back. A lost one is paid again after a crash: the next worker cannot resume its poll.
    sessions = session_factory(engine)
    store = job_store(db)
    job = await claimed(store, "many", "w1")
    assert job.owner == "w1"
    keys = {f"call-{i}": f"async-{i}" for i in range(16)}
    saved = await asyncio.gather(
        *(store.save_async_id(job.id, "de", k, v, "w1") for k, v in keys.items()),
        store.save_async_id(job.id, "fr", "call-fr", "async-fr", "w1"),
    )
    assert all(saved)
    async with sessions() as s:
        stored = {t.target_lang: t.async_ids for t in await jobs.targets(s, job.id)}
    assert stored == {"de": keys, "fr": {"call-fr": "async-fr"}}


async def test_an_async_id_is_saved_only_while_the_job_is_held(
    engine: AsyncEngine, db: Database
) -> None:
    store = job_store(db)
    first = await claimed(store, "taken", "w1", lease=0.2)
    assert await store.save_async_id(first.id, "de", "early", "a-early", "w1")
    await asyncio.sleep(0.3)  # w1 stalls past its lease; w2 takes the job over
    [second] = await store.claim([first.id], "w2", timedelta(seconds=60))
    assert {t.lang: dict(t.async_ids) for t in second.targets}["de"] == {"early": "a-early"}
    # w1 has not noticed yet: its late id is refused, not written where w2 would never look.
    assert not await store.save_async_id(first.id, "de", "late", "a-late", "w1")
    assert await store.save_async_id(first.id, "de", "late", "a-w2", "w2")
    async with session_factory(engine)() as s:
        stored = {t.target_lang: t.async_ids for t in await jobs.targets(s, first.id)}
    assert stored["de"] == {"early": "a-early", "late": "a-w2"}


async def test_a_claim_skips_jobs_locked_by_another_transaction(pg_url: str) -> None:
    # Two workers claiming overlapping candidates in another order deadlocked on PostgreSQL.
    engine = create_engine(pg_url)
    await upgrade(engine)
    db = open_database(pg_url)
    store = job_store(db)
    for rid in ("a", "b"):
        req = TranslationRequestV1.model_validate(request(rid))
        await store.accept([Arrival(req, "requests", 0, 0, no_conflict)], [], "results")
    ids = {c.job_id for c in await store.candidates(10)}
    async with engine.connect() as other:  # e.g. another worker's claim, not yet committed
        locked = (await other.execute(text("SELECT id FROM job LIMIT 1 FOR UPDATE"))).scalar()
        async with asyncio.timeout(10):
            won = await store.claim(sorted(ids), "w1", timedelta(seconds=60))
        assert {j.id for j in won} == ids - {locked}
        await other.rollback()
    assert [j.id for j in await store.claim(sorted(ids), "w2", timedelta(seconds=60))] == [locked]
    await db.close()
    await engine.dispose()


def no_conflict(stored: str) -> OutboundEvent:
    raise AssertionError(f"a conflict with {stored} in a fresh database")
