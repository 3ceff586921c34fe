"""Usage ledger drill: the ledger's totals equal the sums of `usage` over the completed events,
exactly, through a worker SIGKILL and a restart, on SQLite and on PostgreSQL.

Two tenants (one with a budget, so reservations are taken and released across the kill, one
without); texts, packed segments and several target languages; the simulator answers
asynchronously so the kill lands with jobs in flight, some of their languages already stored.
After every request is answered, the completed events (deduped by `ce_id`) are summed per
tenant, column by column, and compared with the ledger; no reservation may be left behind.

Short (CI): 60 requests per database. Long: 400 (`bash scripts/drills.sh -k usage`).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.store import budgets as budget_sql
from service.store import usage
from service.store.db import create_engine
from service.store.migrate import upgrade
from tests.drills.scale import pick, record
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess, publish

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

REQUESTS = pick(short=60, long=400)
# Short leases; OUTBOX_CLAIM_SECONDS lets the killed worker's claimed
# events go out after 5 s instead of a minute.
FAST = {
    "WORKER_JOB_LEASE_SECONDS": "5",
    "OUTBOX_CLAIM_SECONDS": "5",
    "ZAI_BACKOFF_BASE": "0.01",
    "WORKER_GRACEFUL_TIMEOUT": "5",
}


def body(i: int) -> dict[str, Any]:
    tenant = "acme" if i % 3 else "globex"
    out: dict[str, Any] = {
        "request_id": f"u{i}",
        "tenant_id": tenant,
        "source_lang": "en",
        "target_langs": ["de", "fr", "ja"][: 1 + i % 3],
    }
    if i % 4 == 0:
        out["segments"] = [{"id": f"s{k}", "text": f"Line {k} of invoice {i}."} for k in range(5)]
    else:
        out["text"] = f"Usage drill request {i}: the invoice is ready"
    return out


async def until(what: str, predicate: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'drill.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


async def test_ledger_equals_the_completed_events_through_a_sigkill(
    kafka_bootstrap_servers: str, database: str, sim: Any, tmp_path: Path
) -> None:
    engine = create_engine(database)
    await upgrade(engine)
    async with engine.begin() as conn:
        await budget_sql.set_budget(conn, "acme", 10**9)
    sim.configure(mode="async", async_pending_seconds=1.5, latency_ms=20)
    stack = Stack(kafka_bootstrap_servers, database, sim.agents_base, sim.files_base)
    bodies = [body(i) for i in range(REQUESTS)]
    expected = sum(len(b["target_langs"]) for b in bodies)
    workers: list[WorkerProcess] = []
    try:
        async with TopicCollector(stack.bootstrap, stack.results) as results:

            def answered() -> int:
                return len({r.ce_id for r in results.received})

            workers.append(WorkerProcess(stack, tmp_path / "w1.log", **FAST))
            workers[0].wait_ready()
            started = time.monotonic()
            for tenant in ("acme", "globex"):
                mine = [b for b in bodies if b["tenant_id"] == tenant]
                await publish(stack.bootstrap, stack.requests, list(mine), key=tenant.encode())
            await until("a third answered", lambda: answered() >= expected // 3, 180)
            async with engine.connect() as conn:
                held = await conn.scalar(select(func.count()).select_from(usage.RESERVATION))
            at_kill = answered()
            workers[0].kill()
            workers.append(WorkerProcess(stack, tmp_path / "w2.log", **FAST))
            workers[1].wait_ready()
            await until("every answer", lambda: answered() >= expected, 300)
            elapsed = time.monotonic() - started
            await asyncio.sleep(2)  # a late duplicate would show here
            events = {r.ce_id: r.event for r in results.received}
        exit_code = workers[1].stop()
        figures = await _compare(engine, list(events.values()))
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill()
        await engine.dispose()
    figures |= {
        "requests": REQUESTS,
        "answers": expected,
        "answered_at_kill": at_kill,
        "reservations_at_kill": held,
        "run_s": round(elapsed, 1),
        "database": database.split("+")[0],
    }
    record(f"usage-ledger-{figures['database']}", figures)
    assert exit_code == 0
    assert figures["completed"] == expected, figures
    assert figures["mismatches"] == {}, figures
    assert figures["reservations_left"] == 0


async def _compare(engine: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums of `usage` over completed events per tenant against the ledger's totals."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        if e["type"] != "translation.completed":
            continue
        row, use = sums[e["tenant_id"]], e["usage"]
        row["translations"] += 1
        row["character_estimates"] += use["estimate"] == "characters"
        for name in usage.FROM_USAGE:
            row[name] += use[name]
    today = datetime.now(UTC).date()
    async with engine.connect() as conn:
        ledger = await usage.summary(
            conn, start=today - timedelta(days=1), end=today, group_by="tenant"
        )
        left = await conn.scalar(select(func.count()).select_from(usage.RESERVATION))
    totals = {r["tenant_id"]: {n: r[n] for n in usage.COUNTERS} for r in ledger}
    mismatches = {
        tenant: {n: (sums[tenant][n], totals.get(tenant, {}).get(n)) for n in usage.COUNTERS}
        for tenant in set(sums) | set(totals)
        if any(sums[tenant][n] != totals.get(tenant, {}).get(n) for n in usage.COUNTERS)
    }
    return {
        "completed": sum(r["translations"] for r in sums.values()),
        "ledger": totals,
        "mismatches": mismatches,
        "reservations_left": left,
    }
