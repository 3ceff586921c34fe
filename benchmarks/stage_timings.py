"""Where a job's wall time goes: mean, p99 and max per pipeline stage, in one worker under load.

    .venv/bin/python benchmarks/stage_timings.py [--requests 512] [--in-flight 64]
        [--latency-ms 1000] [--postgres | --database-url URL] [--paced N --paced-rate R]

A CPU profile (py-spy) shows what the worker computes; at 1 s upstream latency the question is
rather what a job *waits* for besides Z.ai. This runs the worker in-process (one partition, a
local KRaft broker unless KAFKA_BOOTSTRAP_SERVERS is set, SQLite unless --postgres starts a
private PostgreSQL cluster or --database-url names a server), wraps the store calls and the job
itself with timers, drains N requests and prints, per stage, how often it ran and how long it
took (waiting for its group commit and the connection included), and how long a job's slot
stayed idle between one job's end and the next one's start. With --paced, N requests are
drained first and only a second phase of `paced` requests at `paced-rate`/s is timed: what a
request waits for at light load, after the tables have grown.
A diagnostic: it patches the service's classes in this process only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite.load import percentile
from benchmarks.suite.load import publish as timed_publish
from devstack.kafka import start_kafka
from devstack.postgres import start_postgres
from service.kafka.relay import OutboxRelay
from service.pipeline.jobs.budget import BudgetGate
from service.pipeline.jobs.executor import Executor
from service.pipeline.jobs.intake import Intake
from service.pipeline.jobs.runner import JobRunner
from service.sim.config import SimConfig
from service.sim.testing import running_simulator
from service.store.jobs import SqlJobStore
from service.store.memory import SqlMemory
from service.store.tenants import SqlTenants
from service.store.writes import WriteBatch
from service.worker.app import freeze_heap
from service.zai.client import ZaiClient
from tests.support.pipeline import running_worker
from tests.support.worker import publish, read

TIMES: dict[str, list[float]] = defaultdict(list)
STAGES: list[tuple[Any, str, str]] = [
    (Intake, "accept", "intake: accept a batch"),
    (Executor, "_fill", "executor: fill (candidates + claim)"),
    (SqlJobStore, "claim_next", "  candidates + claim, one round trip"),
    (JobRunner, "execute", "job: claimed → completed"),
    (SqlTenants, "translator", "  tenant credential (cached)"),
    (SqlTenants, "policy", "  tenant policy (cached)"),
    (SqlMemory, "recall", "  memory look-up (group commit)"),
    (ZaiClient, "submit", "  upstream call (Z.ai)"),
    (BudgetGate, "admit", "  budget admission"),
    (SqlJobStore, "complete", "  completion + memory (group commit)"),
    (WriteBatch, "_flush", "    one write transaction"),
    (OutboxRelay, "_send", "relay: send a batch + mark sent"),
]
FREED: list[float] = []  # when a job's slot was freed, oldest first, not yet taken again


def watch_slots() -> None:
    """A slot's idle time: from one job giving its slot up (its languages done, or the job
    ended without getting there) to the start of the next job in its place."""
    finishing, finished, execute = Executor._finishing_now, Executor._finished, JobRunner.execute

    def on_finishing(self: Executor, job_id: str) -> None:
        FREED.append(time.perf_counter())
        finishing(self, job_id)

    def on_finished(self: Executor, job_id: str, task: Any) -> None:
        if job_id not in self._finishing:
            FREED.append(time.perf_counter())
        finished(self, job_id, task)

    async def on_execute(self: JobRunner, job: Any) -> None:
        if FREED:
            TIMES[IDLE].append(1000 * (time.perf_counter() - FREED.pop(0)))
        TIMES[QUEUED].append(1000 * (time.time() - job.created_at.timestamp()))
        await execute(self, job)

    Executor._finishing_now = on_finishing  # type: ignore[method-assign]
    Executor._finished = on_finished  # type: ignore[method-assign,assignment]
    JobRunner.execute = on_execute  # type: ignore[method-assign]


def watch_gc() -> None:
    """Garbage collections that stop the event loop, by generation."""
    started: list[float] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            TIMES[f"gc pause, generation {info['generation']}"].append(
                1000 * (time.perf_counter() - started.pop())
            )

    gc.callbacks.append(callback)


async def watch_loop(stop: asyncio.Event, tick: float = 0.01) -> None:
    """How late a 10 ms sleep wakes up: the event loop blocked (CPU, GC) meanwhile."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(tick)
        TIMES[LAG].append(1000 * (time.perf_counter() - started - tick))


LAG = "event loop lag (10 ms sleeps)"
IDLE = "slot idle: slot given up → next job started"
QUEUED = "queue: job accepted → started"


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            TIMES[label].append(1000 * (time.perf_counter() - started))

    return wrapper


def requests(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "request_id": f"{prefix}{i}",
            "tenant_id": f"t{i % 4}",
            "source_lang": "en",
            "target_langs": ["de"],
            "text": f"Stage timing sentence {i} of {prefix}.",
        }
        for i in range(n)
    ]


async def run(args: argparse.Namespace, bootstrap: str, url: str) -> None:
    for cls, name, label in STAGES:
        setattr(cls, name, timed(label, getattr(cls, name)))
    watch_slots()
    watch_gc()
    stop = asyncio.Event()
    lag = asyncio.create_task(watch_loop(stop))
    limits = {
        "worker_max_in_flight": args.in_flight,
        "worker_tenant_max_in_flight": args.in_flight,
        "zai_max_concurrency": args.in_flight,
    }
    with running_simulator(SimConfig(latency_ms=args.latency_ms)) as sim:
        async for worker in running_worker(bootstrap, url, sim, **limits):
            freeze_heap()  # as `zai-l10n worker` does once it is built
            topics = worker.settings.topic_requests, worker.settings.topic_results
            started = time.perf_counter()
            await publish(bootstrap, topics[0], list(requests("r", args.requests)))
            done = await read(bootstrap, topics[1], args.requests, wait_s=600)
            elapsed = time.perf_counter() - started
            print(f"{len(done)} results in {elapsed:.1f} s: {len(done) / elapsed:.1f} req/s")
            if args.paced:
                await paced(args, bootstrap, topics)
    stop.set()
    await lag
    report()


async def paced(args: argparse.Namespace, bootstrap: str, topics: tuple[str, str]) -> None:
    """Time only a paced phase: N requests at R/s; end-to-end latency from Kafka timestamps."""
    TIMES.clear()
    FREED.clear()
    sent = await timed_publish(
        bootstrap, topics[0], requests("p", args.paced), rate=args.paced_rate
    )
    records = await read(bootstrap, topics[1], args.requests + args.paced, wait_s=600)
    for r in records:
        rid = json.loads(r.value)["request_id"]
        if rid in sent:
            TIMES[E2E].append(r.timestamp - 1000 * sent[rid])
    print(f"paced: {args.paced} requests at {args.paced_rate:g}/s, after {args.requests}")


E2E = "end to end: request → result event"


def report() -> None:
    print(f"{'stage':44} {'calls':>6} {'mean ms':>9} {'p99 ms':>9} {'max ms':>9}")
    gcs = sorted(label for label in TIMES if label.startswith("gc pause"))
    for label in [label for _, _, label in STAGES] + [IDLE, QUEUED, E2E, LAG, *gcs]:
        values = TIMES.get(label) or [float("nan")]
        mean, top = statistics.mean(values), max(values)
        p99 = percentile(values, 99)
        print(f"{label:44} {len(TIMES.get(label, [])):6} {mean:9.1f} {p99:9.1f} {top:9.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=512)
    p.add_argument("--in-flight", type=int, default=64)
    p.add_argument("--latency-ms", type=float, default=1000.0)
    p.add_argument("--database-url", default=None)
    p.add_argument("--postgres", action="store_true", help="a private PostgreSQL cluster")
    p.add_argument("--paced", type=int, default=0, help="time only N paced requests after")
    p.add_argument("--paced-rate", type=float, default=20.0)
    args = p.parse_args()
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = start_kafka()
            stack.callback(kafka.stop)
            bootstrap = kafka.bootstrap_servers
        url = args.database_url
        if args.postgres:
            pg = start_postgres()
            stack.callback(pg.stop)
            url = pg.url
        if url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite+aiosqlite:///{tmp}/stages.db"
        asyncio.run(run(args, bootstrap, url))


if __name__ == "__main__":
    main()
