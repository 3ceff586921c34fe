"""In-process pipeline helpers: a WorkerService on a real broker, database and simulator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from service.config import Settings
from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_glossary
from service.store import glossaries as repository
from service.store.db import session_factory
from service.worker.app import WorkerService
from tests.support.worker import events, free_port, publish, read

ROOT = Path(__file__).resolve().parents[2]


async def running_worker(
    bootstrap: str, db_url: str, sim: Any, **overrides: Any
) -> AsyncIterator[WorkerService]:
    run = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_group_id": f"g-{run}",
        "topic_requests": f"req-{run}",
        "topic_results": f"res-{run}",
        "topic_dlq": f"dlq-{run}",
        "topic_glossary_events": f"gl-{run}",
        "topic_partitions": 1,
        "database_url": db_url,
        "zai_agents_base_url": sim.agents_base,
        "zai_files_base_url": sim.files_base,
        "zai_backoff_base": 0.01,
        "zai_backoff_max": 0.05,
        "zai_max_retries": 2,
        "worker_http_port": free_port(),
        **overrides,
    }
    settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    svc = WorkerService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if task.done():
                task.result()
            try:
                url = f"http://127.0.0.1:{settings.worker_http_port}/readyz"
                if (await http.get(url)).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    yield svc
    stop.set()
    await task


async def roundtrip(
    w: WorkerService, messages: list[dict[str, Any]], expected: int
) -> list[dict[str, Any]]:
    """Publish, then return the `expected` result events of exactly these requests."""
    s = w.settings
    await publish(s.kafka_bootstrap_servers, s.topic_requests, list(messages))
    return await results(w, {m["request_id"] for m in messages}, expected)


async def results(
    w: WorkerService, ids: set[str], expected: int, within: float = 90
) -> list[dict[str, Any]]:
    """The `expected` result events of the requests `ids` (however their jobs were created)."""
    s = w.settings
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        everything = events(
            await read(s.kafka_bootstrap_servers, s.topic_results, 10_000, wait_s=1)
        )
        got = [e for e in everything if e["request_id"] in ids]
        if len(got) >= expected:
            assert len(got) == expected, got
            return got
    raise AssertionError(f"expected {expected} events for {ids}")


async def seed_glossary(
    w: WorkerService | AsyncEngine,
    path: str = "glossaries/acme/product-terms.csv",
    name: str = "product-terms",
    default: bool = True,
) -> None:
    """Save a glossary from the repository for tenant acme (also before a worker runs)."""
    engine = w.engine if isinstance(w, WorkerService) else w
    file = ROOT / path
    doc = parse_glossary(
        file.read_bytes(),
        filename=file.name,
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    async with session_factory(engine)() as s:
        await repository.save(
            s, tenant_id="acme", name=name, doc=doc, author="test", is_default=default
        )
        await s.commit()


def request(rid: str, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": rid,
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de"],
        "text": "Hello",
        **fields,
    }
