"""Walking skeleton, end to end: a real broker, the worker as its own process, the simulator over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


@dataclass
class Topics:
    requests: str
    results: str
    dlq: str


@pytest.fixture
def topics() -> Topics:
    run = uuid.uuid4().hex[:8]
    return Topics(f"req-{run}", f"res-{run}", f"dlq-{run}")


@pytest.fixture
def worker(
    kafka_bootstrap_servers: str, sim: Any, topics: Topics
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "KAFKA_GROUP_ID": f"g-{topics.requests}",
        "TOPIC_REQUESTS": topics.requests,
        "TOPIC_RESULTS": topics.results,
        "TOPIC_DLQ": topics.dlq,
        "TOPIC_PARTITIONS": "3",
        "ZAI_AGENTS_BASE_URL": sim.agents_base,
        "ZAI_FILES_BASE_URL": sim.files_base,
    }
    proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


@pytest.fixture
async def producer(kafka_bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await p.start()
    yield p
    await p.stop()


async def read(bootstrap: str, topic: str, count: int, wait_s: float = 60.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    records: list[Any] = []
    try:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=int(wait_s * 1000), max_records=count)
            if not batch:
                break
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def test_request_is_translated_and_poison_is_dead_lettered(
    kafka_bootstrap_servers: str,
    sim: Any,
    topics: Topics,
    worker: subprocess.Popen[bytes],
    producer: AIOKafkaProducer,
) -> None:
    good = {
        "request_id": "r-1",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de", "fr"],
        "segments": [{"id": "title", "text": "Hello"}, {"id": "body", "text": "Welcome back"}],
        "metadata": {"trace": "abc"},
    }
    await producer.send_and_wait(topics.requests, b'{"not json', key=b"acme")
    await producer.send_and_wait(topics.requests, json.dumps(good).encode(), key=b"acme")

    results = await read(kafka_bootstrap_servers, topics.results, 2)
    events = {
        json.loads(r.value)["target_lang"]: (json.loads(r.value), dict(r.headers)) for r in results
    }
    assert set(events) == {"de", "fr"}
    for lang, (event, headers) in events.items():
        assert event["type"] == "translation.completed"
        assert [s["id"] for s in event["segments"]] == ["title", "body"]
        assert all(s["text"].startswith(f"[{lang}]") for s in event["segments"])
        assert event["metadata"] == {"trace": "abc"}
        assert headers["ce_type"] == b"translation.completed"
        assert headers["ce_id"].decode() == event["event_id"]
        assert headers["ce_specversion"] == b"1.0"

    (letter,) = await read(kafka_bootstrap_servers, topics.dlq, 1)
    body = json.loads(letter.value)
    assert body["reason"] == "bad_json"
    assert body["source_offset"] == 0
    assert (
        sim.counters()["calls"]["agents"] == 4
    )  # 2 segments x 2 languages, nothing for the poison

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
