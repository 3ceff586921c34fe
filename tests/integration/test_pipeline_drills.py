"""Fault drills with real worker processes sharing one PostgreSQL: SIGKILL with jobs in flight,
and two workers racing for the same new glossary version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_glossary
from service.store import glossaries as repository
from service.store.db import create_engine, session_factory
from service.store.migrate import upgrade
from service.store.tables import Job, JobTarget
from tests.support.worker import Stack, WorkerProcess, events, publish, read

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
FAST = {"WORKER_JOB_LEASE_SECONDS": "3", "ZAI_BACKOFF_BASE": "0.01", "WORKER_GRACEFUL_TIMEOUT": "5"}


@pytest.fixture
def stack(kafka_bootstrap_servers: str, pg_url: str, sim: Any) -> Stack:
    return Stack(kafka_bootstrap_servers, pg_url, sim.agents_base, sim.files_base)


def req(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"r{i}",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de"],
        "text": f"Line number {i} with the invoice",
        **extra,
    }


async def wait_for(predicate: Any, wait_s: float = 60.0) -> None:
    for _ in range(int(wait_s * 10)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not reached")


async def collect(stack: Stack, count: int) -> list[dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}
    for _ in range(120):
        for e in events(await read(stack.bootstrap, stack.results, 10_000, wait_s=1)):
            got[e["event_id"]] = e
        if len(got) >= count:
            break
    return list(got.values())


async def test_sigkill_with_jobs_in_flight_loses_nothing_and_never_resubmits(
    stack: Stack, sim: Any, tmp_path: Path
) -> None:
    sim.configure(mode="async", async_pending_seconds=4)
    first = WorkerProcess(stack, tmp_path / "w1.log", **FAST)
    first.wait_ready()
    await publish(stack.bootstrap, stack.requests, [req(i) for i in range(20)])

    engine = create_engine(stack.database_url)
    sessions = session_factory(engine)

    async def all_submitted() -> bool:
        async with sessions() as s:
            rows = (await s.exec(select(JobTarget))).all()
        return len(rows) == 20 and all(r.async_ids for r in rows)

    await wait_for(all_submitted)
    first.kill()  # SIGKILL: no drain, no hand-back, leases simply stop being renewed
    submitted = sim.counters()["calls"]["agents"]
    assert submitted == 20

    second = WorkerProcess(stack, tmp_path / "w2.log", **FAST)
    second.wait_ready()
    done = await collect(stack, 20)
    assert sorted(e["request_id"] for e in done) == sorted(f"r{i}" for i in range(20))
    assert all(e["type"] == "translation.completed" for e in done)
    # Every job had its async id persisted before the kill: the restart only polled.
    assert sim.counters()["calls"]["agents"] == 20
    assert second.stop() == 0
    await engine.dispose()


async def test_two_workers_fifty_jobs_one_glossary_upload(
    stack: Stack, sim: Any, tmp_path: Path
) -> None:
    engine = create_engine(stack.database_url)
    await upgrade(engine)
    content = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()
    doc = parse_glossary(
        content,
        filename="p.csv",
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    async with session_factory(engine)() as s:
        await repository.save(
            s, tenant_id="acme", name="product", doc=doc, author="t", is_default=True
        )
        await s.commit()
    await engine.dispose()
    sim.configure(latency_ms=200)

    workers = [WorkerProcess(stack, tmp_path / f"w{i}.log", **FAST) for i in range(2)]
    for w in workers:
        w.wait_ready()
    await publish(stack.bootstrap, stack.requests, [req(i) for i in range(50)])
    done = await collect(stack, 50)
    assert len(done) == 50
    assert all("Rechnung" in e["text"] and e["glossary_version"] == 1 for e in done)
    assert sim.counters()["uploads"] == 1
    completed = [_completed(w.get("/metrics").text) for w in workers]
    assert sum(completed) == 50 and all(c > 0 for c in completed), completed  # both did work
    assert [w.stop() for w in workers] == [0, 0]


def _completed(metrics: str) -> int:
    for line in metrics.splitlines():
        if line.startswith("zai_l10n_translations_completed_total "):
            return int(float(line.split()[1]))
    return 0


async def test_sigterm_drains_then_hands_back_unfinished_jobs(
    stack: Stack, sim: Any, tmp_path: Path
) -> None:
    sim.configure(latency_ms=8000)
    first = WorkerProcess(stack, tmp_path / "w1.log", **{**FAST, "WORKER_GRACEFUL_TIMEOUT": "1"})
    first.wait_ready()
    await publish(stack.bootstrap, stack.requests, [req(i) for i in range(3)])
    engine = create_engine(stack.database_url)
    sessions = session_factory(engine)

    async def running() -> bool:
        async with sessions() as s:
            return len((await s.exec(select(Job).where(Job.state == "running"))).all()) == 3

    await wait_for(running)
    assert first.stop(timeout=30) == 0  # SIGTERM: stop intake, wait 1 s, hand back, exit 0
    async with sessions() as s:
        rows = (await s.exec(select(Job))).all()
    assert [(r.state, r.lease_owner) for r in rows] == [("queued", None)] * 3

    sim.configure(latency_ms=0)
    second = WorkerProcess(stack, tmp_path / "w2.log", **FAST)
    second.wait_ready()
    done = await collect(stack, 3)
    assert sorted(e["request_id"] for e in done) == ["r0", "r1", "r2"]
    assert second.stop() == 0
    await engine.dispose()
