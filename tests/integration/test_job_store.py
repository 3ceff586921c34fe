"""The job store's writes that run side by side, on both backends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.pipeline.contracts import TranslationRequestV1
from service.pipeline.ports import Arrival
from service.store import jobs
from service.store.db import session_factory
from service.store.jobs import SqlJobStore
from tests.support.pipeline import request

pytestmark = pytest.mark.postgres


async def test_async_ids_saved_at_once_for_one_language_are_all_kept(
    engine: AsyncEngine,
) -> None:
    # One language's packed calls run concurrently and each saves its async id as Z.ai hands
    # it back. A lost one is paid again after a crash: the next worker cannot resume its poll.
    sessions = session_factory(engine)
    store = SqlJobStore(sessions)
    req = TranslationRequestV1.model_validate(request("many", target_langs=["de", "fr"]))
    await store.accept([Arrival(req, "requests", 0, 0)], [], "results")
    async with sessions() as s:
        job = await jobs.find(s, "acme", "many")
    assert job is not None
    keys = {f"call-{i}": f"async-{i}" for i in range(16)}
    await asyncio.gather(
        *(store.save_async_id(job.id, "de", k, v) for k, v in keys.items()),
        store.save_async_id(job.id, "fr", "call-fr", "async-fr"),
    )
    async with sessions() as s:
        saved = {t.target_lang: t.async_ids for t in await jobs.targets(s, job.id)}
    assert saved == {"de": keys, "fr": {"call-fr": "async-fr"}}
