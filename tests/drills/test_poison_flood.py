"""Poison flood: bad messages of every kind interleaved with good ones on a real broker.

Every bad message must reach the DLQ with its reason (each is told apart by its exact bytes),
every good one must complete, nothing may be lost, and the good ones must flow within 20 % of
the throughput of a clean run of the same good requests, which the test makes first, with a
fresh worker, as its baseline. The upstream simulator answers in LATENCY_MS, as a real agent
takes time: what the bad messages must not do is take the worker's attention from that work.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.drills.metrics import samples
from tests.drills.outcomes import Expected, run_id, settle, tally
from tests.drills.scale import pick, record
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess, publish

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

GOOD = pick(short=150, long=1000)
BAD = GOOD
LATENCY_MS = 300
WARM_UP = 5
# The pace the good requests must keep, as a share of the clean run's. The long run holds the
# 20 % the drill promises. A short run lasts a few seconds on a shared, loaded machine, where
# one hiccup moves the ratio by half (0.58 to 0.95 measured): it only catches a stall.
MIN_RATIO = pick(short=0.3, long=0.8)
MAX_BYTES = 20_000
ENV = {"REQUEST_TENANTS": '["acme"]', "REQUEST_MAX_BYTES": str(MAX_BYTES)}


def good(run: str, i: int) -> dict[str, Any]:
    return {
        "request_id": f"{run}-g{i}",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de"],
        "text": f"Flood line {i} of run {run}: the invoice is attached",
        "metadata": {"i": i},
    }


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


# One maker per kind of poison: (message bytes, expected reason), given the run, the index
# and the good request published just before it. Every message carries its index, so no two
# are equal.
POISON: list[Callable[[str, int, dict[str, Any]], tuple[bytes, str]]] = [
    lambda run, i, g: (f'{{"request_id": "{run}-b{i}", '.encode(), "bad_json"),
    lambda run, i, g: (b"\xff\xfe" + f"{run}-b{i}".encode(), "not_utf8"),
    lambda run, i, g: (_json([run, i]), "schema"),
    lambda run, i, g: (
        _json({**g, "request_id": f"{run}-b{i}", "text": "x" * MAX_BYTES}),
        "too_large",
    ),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "target_langs": "de"}), "schema"),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "text": i}), "schema"),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "target_langs": ["xx"]}), "schema"),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "source_lang": "tlh"}), "schema"),
    lambda run, i, g: (
        _json({**g, "request_id": f"{run}-b{i}", "tenant_id": "acmee"}),
        "tenant.unknown",
    ),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "tenant_id": "../etc"}), "schema"),
    lambda run, i, g: (_json({**g, "request_id": f"{run}-b{i}", "surprise": True}), "schema"),
    lambda run, i, g: (
        _json(
            {
                **{k: v for k, v in g.items() if k != "text"},
                "request_id": f"{run}-b{i}",
                "file": {"filename": "m.json", "content_b64": base64.b64encode(b"{no").decode()},
            }
        ),
        "bad_file",
    ),
    # The good request's id again, with other text: a conflict, not a duplicate.
    lambda run, i, g: (_json({**g, "text": f"Other text {i}"}), "request.conflict"),
]


def workload(run: str, bad: int) -> tuple[list[bytes], Expected]:
    """GOOD good requests with `bad` poison messages interleaved, one after each good one."""
    messages: list[bytes] = []
    expected = Expected()
    for i in range(GOOD):
        body = good(run, i)
        messages.append(_json(body))
        expected.request(body)
        if i < bad:
            raw, reason = POISON[i % len(POISON)](run, i, body)
            messages.append(raw)
            expected.letter(raw, reason)
    return messages, expected


async def one_run(
    bootstrap: str, pg_url: str, sim: Any, log: Path, bad: int
) -> tuple[dict[str, Any], float]:
    """A fresh worker and topics; returns the figures and the good requests' throughput."""
    stack = Stack(bootstrap, pg_url, sim.agents_base, sim.files_base)
    messages, expected = workload(run_id(), bad)
    worker = WorkerProcess(stack, log, **ENV)
    try:
        worker.wait_ready()
        async with (
            TopicCollector(bootstrap, stack.results) as results,
            TopicCollector(bootstrap, stack.dlq) as dlq,
        ):
            await warm_up(bootstrap, stack, results, dlq)
            results.received.clear()
            started = time.monotonic()
            await publish(bootstrap, stack.requests, list(messages))
            last = await settle(expected, results, dlq, within=pick(short=120, long=600))
        metrics = samples(worker.get("/metrics").text, "zai_l10n_dead_lettered_total")
    finally:
        assert worker.stop() == 0
    got = tally(expected, results, dlq)
    assert got.lost == 0 and got.strays == 0 and got.wrong_reason == [], got
    assert got.completed == GOOD and not got.failed, got
    assert got.dead_lettered.total() == bad
    assert {k["reason"]: int(v) for k, v in metrics} == dict(got.dead_lettered)
    throughput = GOOD / (last - started)
    return got.figures() | {"good_per_s": round(throughput, 1)}, throughput


async def warm_up(
    bootstrap: str, stack: Stack, results: TopicCollector, dlq: TopicCollector
) -> None:
    """A few requests first, so the clock starts with the group joined and connections open."""
    expected = Expected()
    bodies = [good(f"warm-{run_id()}", i) for i in range(WARM_UP)]
    for body in bodies:
        expected.request(body)
    await publish(bootstrap, stack.requests, list(bodies))
    await settle(expected, results, dlq, within=60)
    assert len(results.received) == WARM_UP


async def test_poison_flood_dead_letters_every_bad_message_and_keeps_the_pace(
    kafka_bootstrap_servers: str, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    sim.configure(latency_ms=LATENCY_MS)
    clean, clean_rate = await one_run(kafka_bootstrap_servers, pg_url, sim, tmp_path / "c.log", 0)
    calls_clean = sim.counters()["calls"]["agents"]
    flood, flood_rate = await one_run(kafka_bootstrap_servers, pg_url, sim, tmp_path / "f.log", BAD)
    calls = sim.counters()["calls"]["agents"] - calls_clean
    assert calls_clean == GOOD + WARM_UP and calls == GOOD + WARM_UP  # poison costs no call
    ratio = flood_rate / clean_rate
    record(
        "poison-flood",
        {
            "database": "postgresql",
            "latency_ms": LATENCY_MS,
            "clean": clean,
            "flood": flood | {"upstream_calls": calls},
            "throughput_ratio": round(ratio, 3),
        },
    )
    assert ratio >= MIN_RATIO, f"good requests flowed at {ratio:.0%} of the clean run's pace"
