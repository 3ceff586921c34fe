"""Worker crash drill: SIGKILL at random moments under steady load, each followed by a restart.

Requests arrive steadily (so kills land in intake batches as well as in running jobs); the
simulator answers asynchronously, so every call has an async id that the worker persists before
polling. Each kill comes when a random share of the answers is out, plus a random fraction of
a second; a new worker is started at once. Promised: every (request, language) answered once
after dedupe by ce_id, nothing lost, and no call whose async id was persisted paid for again.

Short (CI): 150 requests, one kill, PostgreSQL. Long: 1,000 requests, three kills, on
PostgreSQL and then SQLite (`bash scripts/drills.sh -k crash`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.drills.fleet import (
    Fleet,
    Tally,
    feed,
    job_states,
    persisted_async_ids,
    request,
    resubmissions,
    seeded,
    until,
    upstream,
)
from tests.drills.scale import pick, record
from tests.support.results import TopicCollector
from tests.support.worker import Stack

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

REQUESTS = pick(short=150, long=1000)
KILLS = pick(short=1, long=3)
RATE = pick(short=12.0, long=20.0)  # requests published per second: the feed spans the run


# PostgreSQL (the deployment database); the long run does SQLite too (a fresh one each).
@pytest.mark.parametrize(
    "db_url", pick(short=["postgres"], long=["postgres", "sqlite"]), indirect=True
)
async def test_sigkill_under_load_loses_nothing_and_pays_nothing_twice(
    kafka_bootstrap_servers: str, db_url: str, sim: Any, tmp_path: Path
) -> None:
    database = db_url
    sim.configure(mode="async", async_pending_seconds=2.0, latency_ms=20)
    stack = Stack(kafka_bootstrap_servers, database, sim.agents_base, sim.files_base)
    fleet = Fleet(stack, tmp_path)
    seed, rng = seeded()
    bodies = [request(i) for i in range(REQUESTS)]
    expected = sum(len(b["target_langs"]) for b in bodies)
    marks = sorted(rng.uniform(0.1, 0.6) for _ in range(KILLS))  # while the feed goes on
    kills: list[dict[str, Any]] = []
    try:
        async with (
            TopicCollector(stack.bootstrap, stack.results) as results,
            TopicCollector(stack.bootstrap, stack.dlq) as dlq,
        ):

            def answered() -> int:
                return len({r.ce_id for r in results.received})

            worker = await fleet.start_ready()
            started = time.monotonic()
            feeder = asyncio.create_task(feed(stack.bootstrap, stack.requests, bodies, RATE))
            for mark in marks:
                await until("kill point", lambda m=mark: answered() >= m * expected, 300)
                await asyncio.sleep(rng.uniform(0, 0.5))
                states, pending = await job_states(database), sim.counters()["async_pending"]
                worker.kill()
                kill = {"at_s": round(time.monotonic() - started, 1), "answered": answered()}
                kill |= {"running_jobs": states.get("running", 0), "async_pending": pending}
                kill["queued_jobs"] = states.get("queued", 0)
                restarted = time.monotonic()
                worker = await fleet.start_ready()
                kill["restart_ready_s"] = round(time.monotonic() - restarted, 1)
                kills.append(kill)
            await feeder
            fed = time.monotonic()
            await until("every answer", lambda: answered() >= expected, 240)
            figures: dict[str, Any] = {
                "drain_s": round(time.monotonic() - fed, 1),  # end of the feed to the last answer
                "run_s": round(time.monotonic() - started, 1),
            }
            await asyncio.sleep(3)  # late duplicates or stray calls would show up here
        figures["exit_codes"] = fleet.stop_all()
        tally = Tally(bodies, results.received, dlq.received)
        tasks = sim.tasks()
        figures |= tally.figures() | upstream(sim, REQUESTS)
        figures |= resubmissions(tasks, await persisted_async_ids(database))
        figures |= {"kills": kills, "seed": seed, "errors_logged": fleet.errors()}
        figures["database"] = database.split("+")[0]
        record(f"worker-crash-{figures['database']}", figures)
    finally:
        fleet.stop_all()
    tally.check()
    assert figures["completed"] == expected, figures["failed_by_code"]
    assert figures["resubmitted_after_persisted"] == 0, figures
    assert figures["exit_codes"] == [0]
    assert len(kills) == KILLS and all(k["running_jobs"] for k in kills), kills
