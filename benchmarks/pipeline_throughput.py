"""Pipeline drain benchmark: requests through a real broker, a worker process and the simulator.

    .venv/bin/python benchmarks/pipeline_throughput.py [--requests 500] [--latency-ms 1000]

Runs, in one go and on one topic with ONE partition:
  1. the default worker (WORKER_MAX_IN_FLIGHT=64) on N requests at the given simulator latency;
  2. a one-at-a-time baseline (WORKER_MAX_IN_FLIGHT=1) on a small sample, extrapolated to N;
  3. the default worker on M requests at zero latency (throughput).
Prints wall times, throughput and the speed-up ratio. Uses KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL if set, else a local KRaft broker and SQLite in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite.infra import simulator
from devstack.kafka import start_kafka
from tests.support.worker import Stack, WorkerProcess, publish


async def drain(stack: Stack, n: int) -> float:
    """Seconds from the first publish to the n-th result event."""
    consumer = AIOKafkaConsumer(
        stack.results,
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    messages = [
        {
            "request_id": f"{stack.run}-{i}",
            "tenant_id": f"t{i % 4}",
            "source_lang": "en",
            "target_langs": ["de"],
            "text": f"Benchmark sentence number {i} of run {stack.run}.",
        }
        for i in range(n)
    ]
    started = time.perf_counter()
    await publish(stack.bootstrap, stack.requests, messages)  # type: ignore[arg-type]
    seen: set[str] = set()
    while len(seen) < n:
        batch = await consumer.getmany(timeout_ms=1000)
        for records in batch.values():
            seen.update(json.loads(r.value)["request_id"] for r in records)
        if time.perf_counter() - started > 900:
            raise TimeoutError(f"only {len(seen)}/{n} results after 900 s")
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return elapsed


def run(
    bootstrap: str, db_url: str | None, tmp: Path, latency_ms: float, n: int, **env: str
) -> float:
    with simulator(latency_ms) as sim:
        url = db_url or f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex[:6]}.db'}"
        stack = Stack(bootstrap, url, sim.agents, sim.files)
        worker = WorkerProcess(stack, tmp / "worker.log", TOPIC_PARTITIONS="1", **env)
        worker.wait_ready()
        try:
            return asyncio.run(drain(stack, n))
        finally:
            worker.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--latency-ms", type=float, default=1000.0)
    p.add_argument("--baseline-sample", type=int, default=15)
    p.add_argument("--zero-latency-requests", type=int, default=2000)
    args = p.parse_args()
    kafka = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        kafka = start_kafka()
        bootstrap = kafka.bootstrap_servers
    db_url = os.environ.get("DATABASE_URL")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            n, lat = args.requests, args.latency_ms
            concurrent = run(bootstrap, db_url, t, lat, n)
            sample = run(bootstrap, db_url, t, lat, args.baseline_sample, WORKER_MAX_IN_FLIGHT="1")
            baseline = sample / args.baseline_sample * n
            zero_n = args.zero_latency_requests
            zero = run(bootstrap, db_url, t, 0.0, zero_n)
    finally:
        if kafka:
            kafka.stop()
    db = "PostgreSQL" if db_url and "postgresql" in db_url else "SQLite"
    print(f"database: {db}; one partition; simulator latency {lat:.0f} ms")
    print(
        f"default worker (in flight 64): {n} requests drained in {concurrent:.1f} s "
        f"({n / concurrent:.1f} req/s)"
    )
    print(
        f"one-at-a-time baseline: {args.baseline_sample} requests in {sample:.1f} s "
        f"-> {baseline:.0f} s for {n} (extrapolated)"
    )
    print(f"speed-up: {baseline / concurrent:.1f}x")
    print(f"zero latency: {zero_n} requests in {zero:.1f} s ({zero_n / zero:.0f} req/s)")


if __name__ == "__main__":
    main()
