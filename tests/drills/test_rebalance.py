"""Rebalance drill: workers join and leave the consumer group under a steady feed, and one is
SIGKILLed while the group is rebalancing.

Timeline, each step when a share of the requests is published: a second worker joins
(rebalance); it leaves with SIGTERM (rebalance, its unfinished jobs handed back); a third
worker starts, and the moment the group is seen rebalancing for it (admin DescribeGroups) the
first worker is SIGKILLed, with jobs in flight (the simulator holds its answers from the
third's start to the kill) and perhaps a batch read but not committed. Promised: nothing lost,
one answer per (request, language), no persisted call paid twice.

Short (CI): 150 requests. Long: 1,000 requests (`bash scripts/drills.sh -k rebalance`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.drills.fleet import (
    Feed,
    Fleet,
    Tally,
    holders,
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
from tests.support.worker import Stack

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

REQUESTS = pick(short=150, long=1000)
RATE = pick(short=5.0, long=12.0)  # requests per second: the feed spans the whole timeline
REBALANCING = ("PreparingRebalance", "CompletingRebalance")
PENDING_S = 1.5  # how long Z.ai's async tasks stay pending


class Group:
    """The consumer group as the coordinator sees it."""

    def __init__(self, bootstrap: str, group_id: str) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.group_id = group_id

    async def state(self) -> tuple[str, int]:
        """(state, members)."""
        [response] = await self.admin.describe_consumer_groups([self.group_id])
        group = response.groups[0]
        return str(group[2]), len(group[5])

    async def settled(self, members: int) -> float:
        async def check() -> bool:
            return await self.state() == ("Stable", members)

        return round(await until(f"group stable with {members}", check, 90), 1)


async def test_workers_join_leave_and_die_mid_rebalance_without_loss(
    kafka_bootstrap_servers: str, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    sim.configure(mode="async", async_pending_seconds=PENDING_S, latency_ms=20)
    stack = Stack(kafka_bootstrap_servers, pg_url, sim.agents_base, sim.files_base)
    fleet = Fleet(stack, tmp_path)
    group = Group(stack.bootstrap, f"g-{stack.run}")
    await group.admin.start()
    bodies = [request(i) for i in range(REQUESTS)]
    expected = sum(len(b["target_langs"]) for b in bodies)
    steps: list[dict[str, Any]] = []
    try:
        async with (
            TopicCollector(stack.bootstrap, stack.results) as results,
            TopicCollector(stack.bootstrap, stack.dlq) as dlq,
        ):

            def answered() -> int:
                return len({r.ce_id for r in results.received})

            async def at(share: float) -> dict[str, Any]:
                await until(f"{share:.0%} sent", lambda: feeding.sent >= share * REQUESTS, 300)
                jobs = await job_states(pg_url)
                return {
                    "answered": answered(),
                    "at_s": round(time.monotonic() - started, 1),
                    "jobs": jobs,
                    "outbox_waiting": await outbox_waiting(pg_url),
                }

            first = await fleet.start_ready()
            started = time.monotonic()
            feeding = Feed(stack.bootstrap, stack.requests, bodies)
            feeder = asyncio.create_task(feeding.run(RATE))
            await group.settled(1)

            step = await at(0.2)
            second = await fleet.start_ready()
            steps.append(step | {"step": "second joins", "settled_s": await group.settled(2)})

            step = await at(0.45)
            step["exit_code"] = await asyncio.to_thread(second.stop)
            steps.append(step | {"step": "second leaves", "settled_s": await group.settled(1)})

            step = await at(0.6)
            # Z.ai holds every answer until the kill: the first worker's jobs stay in flight,
            # async ids persisted and polls going on, however long the third takes to start.
            sim.configure(async_pending_seconds=3600)
            third = fleet.start()
            state = await _rebalancing(group)
            states = await job_states(pg_url)
            first.kill()
            sim.configure(async_pending_seconds=PENDING_S)
            step |= {"step": "third joins, first killed", "group_state_at_kill": state}
            step["jobs_at_kill"] = states
            await asyncio.to_thread(third.wait_ready, 120.0)
            steps.append(step | {"settled_s": await group.settled(1)})

            await feeder
            await until("every answer", lambda: answered() >= expected, 240)
            run_s = round(time.monotonic() - started, 1)
            await asyncio.sleep(3)  # late duplicates or stray calls would show up here
        fig: dict[str, Any] = {"steps": steps, "run_s": run_s, "exit_codes": fleet.stop_all()}
        tally = Tally(bodies, results.received, dlq.received)
        fig |= tally.figures() | upstream(sim, REQUESTS)
        fig |= resubmissions(sim.tasks(), await persisted_async_ids(pg_url))
        fig["errors_logged"] = fleet.errors()
        record("rebalance", fig)
        pairs = fig.pop("resubmitted_after_persisted_ids")
        where = await holders(pg_url, [i for pair in pairs for i in pair])
    finally:
        fleet.stop_all()
        await group.admin.close()
    tally.check()
    assert fig["completed"] == expected, fig["failed_by_code"]
    assert fig["resubmitted_after_persisted"] == 0, (pairs, where)
    assert steps[1]["exit_code"] == 0 and fig["exit_codes"] == [0]
    assert steps[2]["jobs_at_kill"].get("running", 0) > 0, steps


async def _rebalancing(group: Group) -> str:
    """Wait, polling fast, until the group rebalances for a joining member; returns the state."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state, _ = await group.state()
        if state in REBALANCING:
            return state
        await asyncio.sleep(0.02)
    raise TimeoutError("the group never rebalanced for the joining worker")
