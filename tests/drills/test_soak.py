"""Soak drill: steady load with upstream faults on, the worker's resources sampled throughout.

One worker on PostgreSQL takes a steady feed for the whole run while the simulator injects
rate limits, server errors, dropped connections and malformed bodies on agent calls and polls
(the client retries them). Every few seconds the worker's resident memory, open file
descriptors and established TCP connections are read from /proc (tests/drills/procfs.py).
Promised: every request answered once, none lost, no persisted call paid twice, and, in the
long run, the three series flat after warm-up (their least-squares slopes are recorded).

Short (CI): 10 s, which checks the plumbing and the answers (faults injected, every request
answered, nothing paid twice) but is too short to judge a trend (20 s was no better at that). Long: 30 minutes (`bash scripts/drills.sh -k soak`); DRILL_SOAK_SECONDS sets another
length.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.drills.fleet import (
    Feed,
    Fleet,
    Tally,
    persisted_async_ids,
    request,
    resubmissions,
    until,
    upstream,
)
from tests.drills.procfs import Sample, sample, slope_per_hour
from tests.drills.scale import pick, record, scale
from tests.support.results import TopicCollector
from tests.support.worker import Stack

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

DURATION_S = float(os.environ.get("DRILL_SOAK_SECONDS") or pick(short=10.0, long=1800.0))
EVERY_S = pick(short=2.0, long=10.0)
RATE = 3.0  # requests per second, two languages each
WARM_UP = 0.2  # the first fifth (pools filling, code warming up) is left out of the trend
AGENT_FAULTS = {"429_1302": 0.05, "500": 0.02, "drop": 0.01, "malformed_json": 0.01}
POLL_FAULTS = {"500": 0.02, "drop": 0.01}


def series(samples: list[Sample], field: str) -> dict[str, Any]:
    warm = samples[int(len(samples) * WARM_UP) :]
    values = [getattr(s, field) for s in warm]
    return {
        "first": getattr(samples[0], field),
        "warm": values[0],
        "last": values[-1],
        "min": min(values),
        "max": max(values),
        "slope_per_h": slope_per_hour([(s.at, getattr(s, field)) for s in warm]),
    }


async def test_steady_load_with_faults_leaves_resources_flat(
    kafka_bootstrap_servers: str, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    sim.configure(mode="async", async_pending_seconds=1.0, latency_ms=20)
    sim.script("agents", rates=AGENT_FAULTS, seed=13)
    sim.script("async_result", rates=POLL_FAULTS, seed=17)
    stack = Stack(kafka_bootstrap_servers, pg_url, sim.agents_base, sim.files_base)
    fleet = Fleet(stack, tmp_path)
    bodies = [request(i) for i in range(int(DURATION_S * RATE))]
    expected = sum(len(b["target_langs"]) for b in bodies)
    samples: list[Sample] = []
    try:
        async with (
            TopicCollector(stack.bootstrap, stack.results) as results,
            TopicCollector(stack.bootstrap, stack.dlq) as dlq,
        ):
            worker = await fleet.start_ready()
            started = time.monotonic()
            feeder = asyncio.create_task(Feed(stack.bootstrap, stack.requests, bodies).run(RATE))
            while not feeder.done():
                samples.append(sample(worker.proc.pid, round(time.monotonic() - started, 1)))
                await asyncio.wait({feeder}, timeout=EVERY_S)
            await feeder
            answered = len({r.ce_id for r in results.received})
            fig: dict[str, Any] = {"backlog_at_end_of_feed": expected - answered}
            await until("every answer", lambda: len(results.by_id()) >= expected, 300)
            fig["drain_s"] = round(time.monotonic() - started - DURATION_S, 1)
            await asyncio.sleep(3)
        fig |= {"duration_s": DURATION_S, "samples": len(samples), "exit_codes": fleet.stop_all()}
        fig |= {field: series(samples, field) for field in ("rss_mb", "fds", "connections")}
        tally = Tally(bodies, results.received, dlq.received)
        fig |= tally.figures() | upstream(sim, len(bodies))
        fig["faults_injected"] = sim.counters()["faults_injected"]
        fig |= resubmissions(sim.tasks(), await persisted_async_ids(pg_url))
        fig["errors_logged"] = fleet.errors()
        step = max(1, len(samples) // 30)
        fig["series"] = [asdict(s) for s in samples[::step]]
        record("soak", fig)
    finally:
        fleet.stop_all()
    tally.check()
    assert fig["completed"] == expected, fig["failed_by_code"]
    assert fig["resubmitted_after_persisted"] == 0, fig["resubmitted_after_persisted_ids"]
    assert fig["exit_codes"] == [0] and sum(fig["faults_injected"].values()) > 0
    if scale() == "long":
        # Flat: what the trend adds over the whole run stays within noise of the warm level.
        hours = DURATION_S / 3600
        rss, fds, conns = fig["rss_mb"], fig["fds"], fig["connections"]
        assert rss["slope_per_h"] * hours < 0.15 * rss["warm"], rss
        assert fds["slope_per_h"] * hours < 20, fds
        assert conns["slope_per_h"] * hours < 20, conns
