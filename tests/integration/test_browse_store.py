"""What the console browses, on SQLite and PostgreSQL: jobs by state, language, day and request
id, paged; memory entries written with their source and glossary version, found by text, and
deleted per tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.pipeline.ports import Remembered
from service.store import browse
from service.store.db import session_factory
from service.store.driver import Database
from service.store.memory import SqlMemory
from service.store.tables import Glossary, Job, JobTarget
from service.store.writes import WriteBatch

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 11, 3, 12, tzinfo=UTC)


async def add_job(
    engine: AsyncEngine, rid: str, state: str, targets: dict[str, str], *, days_ago: int = 0
) -> None:
    job_id = str(uuid.uuid4())
    async with session_factory(engine)() as s:
        s.add(
            Job(
                id=job_id,
                tenant_id="acme" if not rid.startswith("globex") else "globex",
                request_id=rid,
                state=state,
                request={"request_id": rid, "source_lang": "en", "text": "Hi"},
                source_topic="t",
                source_partition=0,
                source_offset=0,
                created_at=DAY - timedelta(days=days_ago),
            )
        )
        await s.flush()
        for lang, target_state in targets.items():
            s.add(JobTarget(job_id=job_id, target_lang=lang, state=target_state))
        await s.commit()


async def listed(engine: AsyncEngine, **where: object) -> list[str]:
    async with engine.connect() as conn:
        page = await browse.jobs(conn, "acme", browse.JobFilter(**where), offset=0, limit=50)  # type: ignore[arg-type]
    return [j.request_id for j in page.items]


async def test_jobs_are_filtered_by_state_language_day_and_request_id(engine: AsyncEngine) -> None:
    await add_job(engine, "checkout-1", "done", {"de": "completed", "fr": "completed"})
    await add_job(engine, "checkout-2", "done", {"de": "completed", "fr": "failed"}, days_ago=1)
    await add_job(engine, "invoice-3", "running", {"ja": "pending"}, days_ago=2)
    await add_job(engine, "invoice-4", "queued", {"de": "pending"}, days_ago=10)
    await add_job(engine, "globex-1", "done", {"de": "completed"})  # another tenant's
    assert await listed(engine) == ["checkout-1", "checkout-2", "invoice-3", "invoice-4"]
    assert await listed(engine, state="completed") == ["checkout-1"]
    assert await listed(engine, state="failed") == ["checkout-2"]
    assert await listed(engine, state="running") == ["invoice-3"]
    assert await listed(engine, state="queued") == ["invoice-4"]
    assert await listed(engine, target_lang="de") == ["checkout-1", "checkout-2", "invoice-4"]
    assert await listed(engine, target_lang="ja") == ["invoice-3"]
    day = DAY.date()
    assert await listed(
        engine, first_day=day - timedelta(days=2), last_day=day - timedelta(days=1)
    ) == [
        "checkout-2",
        "invoice-3",
    ]
    assert await listed(engine, request_id="INVOICE") == ["invoice-3", "invoice-4"]
    assert await listed(engine, request_id="%") == []  # a wildcard is a character
    async with engine.connect() as conn:
        first = await browse.jobs(conn, "acme", browse.JobFilter(), offset=0, limit=3)
        rest = await browse.jobs(conn, "acme", browse.JobFilter(), offset=3, limit=3)
        langs = await browse.job_languages(conn, "acme")
    assert (len(first.items), first.more, [j.request_id for j in rest.items], rest.more) == (
        3,
        True,
        ["invoice-4"],
        False,
    )
    assert first.items[1].targets == {"de": "completed", "fr": "failed"}
    assert [j.outcome for j in first.items] == ["completed", "failed", "running"]
    assert langs == ["de", "fr", "ja"]
    assert date.fromisoformat("2026-11-03") == day


async def test_memory_keeps_sources_is_searched_by_text_and_deleted_per_tenant(
    engine: AsyncEngine, db: Database
) -> None:
    glossary_id = str(uuid.uuid4())
    async with session_factory(engine)() as s:
        s.add(Glossary(id=glossary_id, tenant_id="acme", name="product", source_lang="en"))
        await s.commit()
    memory = SqlMemory(db, WriteBatch(db))
    k1, k2, k3 = "a" * 64, "b" * 64, "c" * 64
    await memory.remember(
        "acme",
        {
            k1: Remembered("Ihre Rechnung", "Your invoice", "en", "de", glossary_id, 3),
            k2: Remembered("Votre facture 100%", "Your invoice 100%", "en", "fr"),
        },
    )
    await memory.remember("globex", {k3: Remembered("Rechnung", "Invoice", "en", "de")})
    assert await memory.recall([k1, k2, k3]) == {
        k1: "Ihre Rechnung",
        k2: "Votre facture 100%",
        k3: "Rechnung",
    }
    async with engine.connect() as conn:
        hits = await browse.memory(conn, "acme", "INVOICE", offset=0, limit=10)
        german = await browse.memory(conn, "acme", "rechnung", offset=0, limit=10)
        percent = await browse.memory(conn, "acme", "0%", offset=0, limit=10)
        french = await browse.memory(conn, "acme", "", target_lang="fr", offset=0, limit=10)
    assert sorted(m.key for m in hits.items) == [k1, k2]  # globex's is not acme's
    (row,) = german.items
    assert (row.source_text, row.target_text, row.glossary_name, row.glossary_version) == (
        "Your invoice",
        "Ihre Rechnung",
        "product",
        3,
    )
    assert [m.key for m in percent.items] == [k2] and [m.key for m in french.items] == [k2]
    async with engine.begin() as conn:
        assert not await browse.forget(conn, "acme", k3)  # another tenant's entry: not found
        assert await browse.forget(conn, "acme", k1)
    assert await memory.recall([k1, k3]) == {k3: "Rechnung"}
