"""The Z.ai upload cache against a real database (both backends) and the simulator over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from service.glossary.cache_policy import CachePolicy
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.pipeline.ports import PairKey
from service.pipeline.translation.glossary_files import UploadCache
from service.store import glossaries as repository
from service.store.db import session_factory
from service.store.glossary_files import SqlGlossaryFiles
from service.store.tables import ZaiFile, utcnow
from service.zai import TranslateRequest, ZaiClient, ZaiFileNotFound

pytestmark = pytest.mark.postgres


def doc(*pairs: tuple[str, str]) -> GlossaryDocument:
    return GlossaryDocument("en", tuple(GlossaryEntry(t, {"de": d}) for t, d in pairs))


async def save(engine: AsyncEngine, d: GlossaryDocument) -> int:
    async with session_factory(engine)() as s:
        saved = await repository.save(s, tenant_id="acme", name="terms", doc=d, author="t")
        await s.commit()
        assert saved.version.id is not None
        return saved.version.id


@pytest.fixture
async def client(sim: Any) -> AsyncIterator[ZaiClient]:
    async with ZaiClient(
        "acct.key", agents_base_url=sim.agents_base, files_base_url=sim.files_base
    ) as c:
        yield c


def cache(engine: AsyncEngine, **policy: Any) -> UploadCache:
    records = SqlGlossaryFiles(session_factory(engine))
    return UploadCache(records, owner=uuid.uuid4().hex[:8], policy=CachePolicy(**policy))


async def test_uploads_once_then_reuses(engine: AsyncEngine, sim: Any, client: ZaiClient) -> None:
    d = doc(("invoice", "Rechnung"))
    key = PairKey(client.key_fingerprint, await save(engine, d), "en", "de")
    c = cache(engine)

    async def load() -> GlossaryDocument:
        return d

    ids = await asyncio.gather(*(c.ensure(client, key, load) for _ in range(50)))
    assert len(set(ids)) == 1 and ids[0]
    assert await c.ensure(client, key, load) == ids[0]
    assert sim.counters()["uploads"] == 1
    # The uploaded file really carries the terms: a translation through it applies them.
    out = await client.translate(TranslateRequest("Send the invoice", "de", "en", glossary=ids[0]))
    assert "Rechnung" in out.text


async def test_pair_without_terms_uploads_nothing(
    engine: AsyncEngine, sim: Any, client: ZaiClient
) -> None:
    d = doc(("invoice", "Rechnung"))
    key = PairKey(client.key_fingerprint, await save(engine, d), "en", "fr")

    async def load() -> GlossaryDocument:
        return d

    assert await cache(engine).ensure(client, key, load) is None
    assert sim.counters()["uploads"] == 0


async def test_new_version_replaces_and_deletes_old_file(
    engine: AsyncEngine, sim: Any, client: ZaiClient
) -> None:
    c = cache(engine)
    d1, d2 = doc(("invoice", "Rechnung")), doc(("invoice", "Faktura"))
    v1 = await save(engine, d1)
    v2 = await save(engine, d2)

    async def load1() -> GlossaryDocument:
        return d1

    async def load2() -> GlossaryDocument:
        return d2

    old = await c.ensure(client, PairKey(client.key_fingerprint, v1, "en", "de"), load1)
    new = await c.ensure(client, PairKey(client.key_fingerprint, v2, "en", "de"), load2)
    assert old != new
    counters = sim.counters()
    assert (counters["uploads"], counters["deletes"], counters["files"]) == (2, 1, 1)
    assert [f["id"] for f in sim.files()] == [new]


async def test_near_expiry_reuploads(engine: AsyncEngine, sim: Any, client: ZaiClient) -> None:
    d = doc(("invoice", "Rechnung"))
    key = PairKey(client.key_fingerprint, await save(engine, d), "en", "de")
    c = cache(engine)

    async def load() -> GlossaryDocument:
        return d

    first = await c.ensure(client, key, load)
    async with session_factory(engine)() as s:
        await s.exec(update(ZaiFile).values(uploaded_at=utcnow() - timedelta(days=175)))
        await s.commit()
    second = await c.ensure(client, key, load)
    assert second != first
    assert (sim.counters()["uploads"], sim.counters()["deletes"]) == (2, 1)


async def test_file_unknown_upstream_is_uploaded_again(
    engine: AsyncEngine, sim: Any, client: ZaiClient
) -> None:
    d = doc(("invoice", "Rechnung"))
    key = PairKey(client.key_fingerprint, await save(engine, d), "en", "de")
    c = cache(engine)

    async def load() -> GlossaryDocument:
        return d

    first = await c.ensure(client, key, load)
    assert first
    sim.advance_clock(181 * 86400)  # past Z.ai's retention: the simulator forgets the file
    with pytest.raises(ZaiFileNotFound):
        await client.translate(TranslateRequest("Send the invoice", "de", "en", glossary=first))
    await c.invalidate(key, first)
    again = await c.ensure(client, key, load)
    assert again and again != first
    out = await client.translate(TranslateRequest("Send the invoice", "de", "en", glossary=again))
    assert "Rechnung" in out.text


async def test_stays_under_the_file_limit(engine: AsyncEngine, sim: Any, client: ZaiClient) -> None:
    d = doc(("invoice", "Rechnung"), ("dashboard", "Übersicht"))
    d = GlossaryDocument(
        "en", tuple(GlossaryEntry(e.term, {"de": "x", "fr": "y", "ja": "z"}) for e in d.entries)
    )
    version = await save(engine, d)
    c = cache(engine, max_files=2)

    async def load() -> GlossaryDocument:
        return d

    ids = [
        await c.ensure(client, PairKey(client.key_fingerprint, version, "en", t), load)
        for t in ("de", "fr", "ja")
    ]
    assert sim.counters()["files"] == 2
    assert {f["id"] for f in sim.files()} == set(ids[1:])  # the least recently used went first
    async with session_factory(engine)() as s:
        rows = (await s.exec(select(ZaiFile).order_by(col(ZaiFile.id)))).all()
    assert [r.state for r in rows] == ["deleted", "ready", "ready"]


class NoDelete(ZaiClient):
    """A connection without a file delete, as through Truto's proxy."""

    async def can_delete_files(self) -> bool:
        return False


async def test_without_a_file_delete_nothing_is_evicted_or_deleted(
    engine: AsyncEngine, sim: Any
) -> None:
    d1, d2 = doc(("invoice", "Rechnung")), doc(("invoice", "Faktura"))
    v1, v2 = await save(engine, d1), await save(engine, d2)
    c = cache(engine, max_files=1)  # a full cache: would evict before each upload

    async def load(d: GlossaryDocument) -> GlossaryDocument:
        return d

    async with NoDelete(
        "acct.key", agents_base_url=sim.agents_base, files_base_url=sim.files_base
    ) as api:
        ids = [
            await c.ensure(api, PairKey(api.key_fingerprint, v, "en", "de"), lambda d=d: load(d))
            for v, d in ((v1, d1), (v2, d2))
        ]
    counters = sim.counters()
    assert (counters["uploads"], counters["deletes"], counters["files"]) == (2, 0, 2)
    assert counters["calls"]["files_delete"] == 0 and len(set(ids)) == 2
    async with session_factory(engine)() as s:
        rows = (await s.exec(select(ZaiFile).order_by(col(ZaiFile.id)))).all()
    assert [r.state for r in rows] == ["ready", "ready"]  # the old one is left, not "deleted"


_WORKER = """
import asyncio, sys
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.pipeline.ports import PairKey
from service.pipeline.translation.glossary_files import UploadCache
from service.store.db import create_engine, session_factory
from service.store.glossary_files import SqlGlossaryFiles
from service.zai import ZaiClient

async def main():
    url, agents, files, version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    d = GlossaryDocument("en", (GlossaryEntry("invoice", {"de": "Rechnung"}),))
    async def load():
        return d
    engine = create_engine(url)
    cache = UploadCache(SqlGlossaryFiles(session_factory(engine)), owner=sys.argv[5])
    async with ZaiClient("acct.key", agents_base_url=agents, files_base_url=files) as client:
        key = PairKey(client.key_fingerprint, version, "en", "de")
        ids = await asyncio.gather(*(cache.ensure(client, key, load) for _ in range(25)))
    await engine.dispose()
    print(",".join(sorted(set(ids))))

asyncio.run(main())
"""


async def test_two_processes_fifty_jobs_one_upload(
    engine: AsyncEngine, db_url: str, sim: Any, tmp_path: Path
) -> None:
    version = await save(engine, doc(("invoice", "Rechnung")))
    script = tmp_path / "ensure.py"
    script.write_text(_WORKER)
    args = [db_url, sim.agents_base, sim.files_base, str(version)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            *args,
            name,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        )
        for name in ("w1", "w2")
    ]
    outputs = [(await p.communicate())[0].decode().strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1] and outputs[0]
    assert sim.counters()["uploads"] == 1
