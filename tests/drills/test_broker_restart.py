"""Broker restart drill: the Kafka broker stops mid-load and starts again on the same port and
data, as a broker restart or a short network partition looks to the worker.

A broker of this test's own (the session's broker is shared); the first part of the requests is
published, and once a quarter of it is done the broker stops while the rest is queued or
running. The worker must stay up, go on translating from its database (events wait in the
outbox), say not-ready naming Kafka while the broker is gone, become ready again by itself,
and then take the second part of the requests. Promised: nothing lost, one answer per
(request, language), no persisted call paid twice.

Short (CI): 100 + 50 requests, 8 s outage. Long: 600 + 400 requests, 20 s outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.kafka import LocalKafka, start_kafka
from tests.drills.fleet import (
    Fleet,
    ReadyzProbe,
    Tally,
    feed,
    job_states,
    outbox_waiting,
    persisted_async_ids,
    request,
    resubmissions,
    until,
    upstream,
)
from tests.drills.scale import pick, record
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

BEFORE, AFTER = pick(short=(100, 50), long=(600, 400))
OUTAGE_S = pick(short=8.0, long=20.0)
RATE = 50.0
# /readyz may take its whole 5 s check timeout to notice; from then on it must say not-ready.
NOTICE_S = 6.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own, which it may stop; its data dir lives in tmp_path."""
    kafka = start_kafka(data_dir=tmp_path / "kafka")
    try:
        yield kafka
    finally:
        kafka.stop()


def alive(fleet: Fleet, worker: WorkerProcess, when: str) -> None:
    code = worker.proc.poll()
    assert code is None, f"the worker exited (code {code}) {when}: {fleet.errors()}"


async def test_worker_rides_out_a_broker_restart(
    broker: LocalKafka, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    sim.configure(mode="async", async_pending_seconds=1.0, latency_ms=20)
    stack = Stack(broker.bootstrap_servers, pg_url, sim.agents_base, sim.files_base)
    fleet = Fleet(stack, tmp_path)
    bodies = [request(i) for i in range(BEFORE + AFTER)]
    expected = sum(len(b["target_langs"]) for b in bodies)
    fig: dict[str, Any] = {"outage_s": OUTAGE_S}
    try:
        worker = await fleet.start_ready()
        async with ReadyzProbe(worker) as ready:
            started = time.monotonic()
            await feed(stack.bootstrap, stack.requests, bodies[:BEFORE], RATE)

            async def quarter_done() -> bool:
                return (await job_states(pg_url)).get("done", 0) >= BEFORE // 4

            await until("a quarter done", quarter_done, 120)
            states = await job_states(pg_url)
            fig["open_jobs_at_stop"] = states.get("queued", 0) + states.get("running", 0)
            stopped = time.monotonic()
            await asyncio.to_thread(broker.pause)
            fig["stop_took_s"] = round(time.monotonic() - stopped, 1)
            while time.monotonic() - stopped < OUTAGE_S:
                alive(fleet, worker, f"{time.monotonic() - stopped:.1f} s into the outage")
                await asyncio.sleep(0.2)
            done_now = (await job_states(pg_url)).get("done", 0)
            fig["jobs_done_during_outage"] = done_now - states.get("done", 0)
            fig["outbox_waiting_at_restart"] = await outbox_waiting(pg_url)
            restarting = time.monotonic()
            await asyncio.to_thread(broker.resume)
            resumed = time.monotonic()
            fig["outage_measured_s"] = round(resumed - stopped, 1)
            fig["restart_took_s"] = round(resumed - restarting, 1)
            ready_s = await until(
                "ready after the restart", lambda: _ready_since(ready, resumed), 120
            )
            fig["ready_after_restart_s"] = round(ready_s, 1)
            await feed(stack.bootstrap, stack.requests, bodies[BEFORE:], RATE)
            async with (
                TopicCollector(stack.bootstrap, stack.results) as results,
                TopicCollector(stack.bootstrap, stack.dlq) as dlq,
            ):

                def answered() -> bool:
                    alive(fleet, worker, "after the restart")
                    return len({r.ce_id for r in results.received}) >= expected

                await until("every answer", answered, 240)
                fig["drain_s"] = round(time.monotonic() - resumed, 1)
                fig["run_s"] = round(time.monotonic() - started, 1)
                await asyncio.sleep(3)  # late duplicates would show up here
        outage = ready.between(stopped + NOTICE_S, restarting)
        fig["readyz"] = ready.timeline(stopped)
        fig["exit_codes"] = fleet.stop_all()
        tally = Tally(bodies, results.received, dlq.received)
        fig |= tally.figures() | upstream(sim, len(bodies))
        fig |= resubmissions(sim.tasks(), await persisted_async_ids(pg_url))
        fig["errors_logged"] = fleet.errors()
        record("broker-restart", fig)
    finally:
        fleet.stop_all()
    assert outage, f"no /readyz answer during the outage: {fig['readyz']}"
    wrong = [p for p in outage if p[1] != 503 or "kafka" not in p[2]]
    assert not wrong, f"/readyz while the broker was down: {fig['readyz']}"
    tally.check()
    assert fig["completed"] == expected, fig["failed_by_code"]
    assert fig["resubmitted_after_persisted"] == 0, fig
    assert fig["exit_codes"] == [0]


def _ready_since(probe: ReadyzProbe, since: float) -> bool:
    return any(status == 200 for _, status, _ in probe.between(since, time.monotonic()))
