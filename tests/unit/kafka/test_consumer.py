"""The Kafka intake's commit after a batch was accepted, over a scripted consumer: a rebalance
in between is routine, not a reason for the intake loop to die."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from service.kafka.consumer import KafkaIntake
from service.metrics import Metrics
from service.pipeline.jobs.intake import Intake, IntakeConfig
from tests.unit.pipeline.fakes import FakeJobStore

T0, T1 = TopicPartition("requests", 0), TopicPartition("requests", 1)


def record(tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    body = {"request_id": f"r{tp.partition}-{offset}", "tenant_id": "acme", "source_lang": "en"}
    value = json.dumps(body | {"target_langs": ["de"], "text": "Hello"}).encode()
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"acme", value, None, 0, 0, [])


class ScriptedConsumer:
    """Hands out one batch; the group may have rebalanced by the time it is committed."""

    def __init__(self, batch: dict[TopicPartition, list[Any]], assigned_at_commit: set[Any]):
        self.batch, self.assigned = batch, set(batch)
        self.assigned_at_commit = assigned_at_commit
        self.commit_error: Exception | None = None
        self.committed: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def paused(self) -> set[TopicPartition]:
        return set()

    def pause(self, *_: TopicPartition) -> None: ...

    def resume(self, *_: TopicPartition) -> None: ...

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Any]]:
        batch, self.batch = self.batch, {}
        self.assigned = self.assigned_at_commit  # the rebalance happens while it is accepted
        return batch

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.committed.append(offsets)


async def poll(consumer: ScriptedConsumer, store: FakeJobStore, woken: list[int]) -> None:
    intake = Intake(store, Metrics(), IntakeConfig("results", "dlq"), clock=lambda: 0.0)
    kafka = KafkaIntake(
        lambda: consumer,  # type: ignore[arg-type,return-value]
        "requests",
        intake,
        Metrics(),
        batch_size=10,
        on_accepted=lambda accepted: woken.append(1),
    )
    await kafka._poll_once(consumer, asyncio.Event())  # type: ignore[arg-type]


async def test_a_partition_moved_away_is_not_committed_the_rest_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = ScriptedConsumer({T0: [record(T0, 4)], T1: [record(T1, 7)]}, {T1})
    store, woken = FakeJobStore(), []
    await poll(consumer, store, woken)
    assert consumer.committed == [{T1: 8}]
    assert len(store.jobs) == 2 and woken == [1]  # both accepted; T0's comes again, a duplicate
    assert "a rebalance moved partitions during a batch" in caplog.text


async def test_a_commit_refused_after_a_rebalance_leaves_the_loop_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = ScriptedConsumer({T0: [record(T0, 4)]}, {T0})
    consumer.commit_error = CommitFailedError("the group has already rebalanced")
    store, woken = FakeJobStore(), []
    await poll(consumer, store, woken)  # no exception: the intake loop goes on
    assert consumer.committed == [] and len(store.jobs) == 1 and woken == [1]
    [warning] = [r for r in caplog.records if r.name == "service.kafka.consumer"]
    assert "CommitFailedError" in warning.error  # type: ignore[attr-defined]
