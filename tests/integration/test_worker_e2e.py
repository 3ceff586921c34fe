"""End to end: a real broker, the worker as its own process, SQLite, the simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.worker import Stack, WorkerProcess, events, publish, read

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


@pytest.fixture
def stack(kafka_bootstrap_servers: str, sim: Any, tmp_path: Path) -> Stack:
    return Stack(
        kafka_bootstrap_servers,
        f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        sim.agents_base,
        sim.files_base,
    )


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(stack, tmp_path / "worker.log")
    w.wait_ready()
    yield w
    if w.proc.poll() is None:
        w.stop()


async def test_request_is_translated_and_poison_is_dead_lettered(
    stack: Stack, sim: Any, worker: WorkerProcess
) -> None:
    good = {
        "request_id": "r-1",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de", "fr"],
        "segments": [{"id": "title", "text": "Hello"}, {"id": "body", "text": "Welcome back"}],
        "metadata": {"trace": "abc"},
    }
    await publish(stack.bootstrap, stack.requests, [b'{"not json', good])

    results = await read(stack.bootstrap, stack.results, 2)
    by_lang = {
        json_body["target_lang"]: (json_body, dict(r.headers))
        for r, json_body in zip(results, events(results), strict=True)
    }
    assert set(by_lang) == {"de", "fr"}
    for lang, (event, headers) in by_lang.items():
        assert event["type"] == "translation.completed"
        assert [s["id"] for s in event["segments"]] == ["title", "body"]
        assert all(s["text"].startswith(f"[{lang}]") for s in event["segments"])
        assert event["metadata"] == {"trace": "abc"}
        assert headers["ce_type"] == b"translation.completed"
        assert headers["ce_id"].decode() == event["event_id"]
        assert headers["ce_specversion"] == b"1.0"

    (letter,) = events(await read(stack.bootstrap, stack.dlq, 1))
    assert letter["reason"] == "bad_json"
    assert letter["source_offset"] == 0
    # Both segments of a language travel packed in one call; nothing for the poison.
    assert sim.counters()["calls"]["agents"] == 2
    for event, _ in by_lang.values():
        assert event["qa"]["totals"]["segments"] == 2 and event["qa"]["totals"]["failed"] == 0

    metrics = worker.get("/metrics").text
    assert "zai_l10n_dead_lettered_total" in metrics and 'reason="bad_json"' in metrics
    assert worker.get("/livez").status_code == 200
    assert (
        "translation.requests" in worker.get("/asyncapi.json").text
        or stack.requests in worker.get("/asyncapi.json").text
    )
    assert worker.stop() == 0
