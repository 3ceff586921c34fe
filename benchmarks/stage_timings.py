"""Where a job's wall time goes: mean and max per pipeline stage, in one worker under load.

    .venv/bin/python benchmarks/stage_timings.py [--requests 512] [--in-flight 64]
        [--latency-ms 1000] [--database-url URL]

A CPU profile (py-spy) shows what the worker computes; at 1 s upstream latency the question is
rather what a job *waits* for besides Z.ai. This runs the worker in-process (one partition, a
local KRaft broker unless KAFKA_BOOTSTRAP_SERVERS is set, SQLite unless --database-url), wraps
the store calls and the job itself with timers, drains N requests and prints, per stage, how
often it ran and how long it took (waiting for its group commit and the connection included).
A diagnostic: it patches the service's classes in this process only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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

from service.devstack.kafka import start_kafka
from service.kafka.relay import OutboxRelay
from service.pipeline.executor import Executor
from service.sim.config import SimConfig
from service.sim.testing import running_simulator
from service.store.jobs import SqlJobStore
from service.store.memory import SqlMemory
from service.store.tenants import SqlTenants
from tests.support.pipeline import running_worker
from tests.support.worker import publish, read

TIMES: dict[str, list[float]] = defaultdict(list)
STAGES: list[tuple[Any, str, str]] = [
    (Executor, "_fill", "executor: fill (candidates + claim)"),
    (SqlJobStore, "claim", "  claim"),
    (Executor, "_execute", "job: claimed → completed"),
    (SqlTenants, "translator", "  tenant credential (cached)"),
    (SqlTenants, "policy", "  tenant policy (cached)"),
    (SqlMemory, "recall", "  memory look-up (group commit)"),
    (SqlMemory, "remember", "  memory write (group commit)"),
    (SqlJobStore, "complete", "  completion (group commit)"),
    (SqlJobStore, "_complete_many", "    one completion transaction"),
    (OutboxRelay, "_send", "relay: send a batch + mark sent"),
]


def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            TIMES[label].append(1000 * (time.perf_counter() - started))

    return wrapper


async def run(args: argparse.Namespace, bootstrap: str) -> None:
    for cls, name, label in STAGES:
        setattr(cls, name, timed(label, getattr(cls, name)))
    with running_simulator(SimConfig(latency_ms=args.latency_ms)) as sim:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/stages.db"
            limits = {
                "worker_max_in_flight": args.in_flight,
                "worker_tenant_max_in_flight": args.in_flight,
                "zai_max_concurrency": args.in_flight,
            }
            async for worker in running_worker(bootstrap, url, sim, **limits):
                s = worker.settings
                messages = [
                    {
                        "request_id": f"r{i}",
                        "tenant_id": f"t{i % 4}",
                        "source_lang": "en",
                        "target_langs": ["de"],
                        "text": f"Stage timing sentence {i}.",
                    }
                    for i in range(args.requests)
                ]
                started = time.perf_counter()
                await publish(bootstrap, s.topic_requests, list(messages))
                done = await read(bootstrap, s.topic_results, args.requests, wait_s=600)
                elapsed = time.perf_counter() - started
    print(f"{len(done)} results in {elapsed:.1f} s: {len(done) / elapsed:.1f} req/s")
    print(f"{'stage':44} {'calls':>6} {'mean ms':>9} {'max ms':>9}")
    for _, _, label in STAGES:
        values = TIMES.get(label) or [float("nan")]
        mean, top = statistics.mean(values), max(values)
        print(f"{label:44} {len(TIMES.get(label, [])):6} {mean:9.1f} {top:9.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=512)
    p.add_argument("--in-flight", type=int, default=64)
    p.add_argument("--latency-ms", type=float, default=1000.0)
    p.add_argument("--database-url", default=None)
    args = p.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka = None if bootstrap else start_kafka()
    try:
        asyncio.run(run(args, bootstrap or kafka.bootstrap_servers))  # type: ignore[union-attr]
    finally:
        if kafka:
            kafka.stop()


if __name__ == "__main__":
    main()
