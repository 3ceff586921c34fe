"""Upstream chaos: the simulator fails a third of all agent calls, in every way Z.ai can.

Rates per call: 20 % 429 with code 1302 (rate limit), 5 % 500, 2 % a reply slower than the
read timeout, 2 % a dropped connection, 2 % a truncated JSON body. The worker retries each
call up to ZAI_MAX_RETRIES times (2 here, so that some languages run out of retries and their
failure codes are exercised too).

The simulator's call log says which fault every call drew, so the outcome of each (request,
language) is predicted independently of the worker: completed if its last call got through,
else failed with the code of that last fault, after exactly 1 + ZAI_MAX_RETRIES calls. Nothing
may be stuck or lost, and the worker's /metrics must agree with the events.

Then a balance storm: every call answers 1113. Each language must fail at once with
`zai.quota_exceeded`, after one call and no retry, and the metrics must show it.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.store.db import create_engine
from tests.drills.metrics import total
from tests.drills.outcomes import Expected, run_id, settle, tally
from tests.drills.scale import pick, record
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess, publish

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

REQUESTS = pick(short=150, long=1000)
STORM = pick(short=30, long=200)
LANGS = ["de", "fr"]
RATES = {"429_1302": 0.20, "500": 0.05, "slow": 0.02, "drop": 0.02, "malformed_json": 0.02}
MAX_RETRIES = 2
ENV = {
    "ZAI_MAX_RETRIES": str(MAX_RETRIES),
    "ZAI_BACKOFF_BASE": "0.05",
    "ZAI_BACKOFF_MAX": "0.5",
    "ZAI_READ_TIMEOUT": "1.0",
}
# The code a language fails with when its last call drew this fault.
CODE_OF = {
    "429_1302": "zai.rate_limited",
    "500": "zai.server_error",
    "slow": "zai.timeout",
    "drop": "zai.connection_error",
    "malformed_json": "zai.malformed_response",
    "429_1113": "zai.quota_exceeded",
}


def body(run: str, i: int) -> dict[str, Any]:
    return {
        "request_id": f"{run}-{i}",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": LANGS,
        "text": f"Chaos {run}-{i}: please check the invoice",
    }


def predicted(calls: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """(request_id, lang) -> the faults its calls drew, in order, from the simulator's log."""
    by_text = {b["text"]: b["request_id"] for b in bodies}
    drawn: dict[tuple[str, str], list[str]] = defaultdict(list)
    for call in calls:
        rid = by_text.get(call["text"])
        if rid is not None:
            drawn[(rid, call["target_lang"])].append(call["fault"])
    return drawn


async def test_upstream_chaos_ends_every_request_with_the_right_outcome(
    kafka_bootstrap_servers: str, pg_url: str, sim: Any, tmp_path: Path
) -> None:
    sim.configure(latency_ms=50, slow_seconds=3)
    sim.script("agents", rates=RATES, seed=13)
    stack = Stack(kafka_bootstrap_servers, pg_url, sim.agents_base, sim.files_base)
    worker = WorkerProcess(stack, tmp_path / "worker.log", **ENV)
    try:
        worker.wait_ready()
        async with (
            TopicCollector(kafka_bootstrap_servers, stack.results) as results,
            TopicCollector(kafka_bootstrap_servers, stack.dlq) as dlq,
        ):
            chaos = await chaos_phase(stack, sim, results, dlq)
            page = worker.get("/metrics").text
            storm = await storm_phase(stack, sim, results, dlq)
            after = worker.get("/metrics").text
        stuck = await open_jobs(pg_url)
    finally:
        assert worker.stop() == 0

    assert stuck == {}, f"jobs not done: {stuck}"
    # The worker's own count of calls (a retried call counts once) and of outcomes.
    logical = total(page, "zai_l10n_upstream_calls_total", route="agents")
    assert logical == chaos["runs"], "one logical call per language (one short text each)"
    assert chaos["upstream_calls"] <= logical * (1 + MAX_RETRIES)
    assert total(page, "zai_l10n_translations_completed_total") == chaos["completed"]
    for code, n in chaos["failed_by_code"].items():
        assert total(page, "zai_l10n_translations_failed_total", code=code) == n
    quota = total(after, "zai_l10n_translations_failed_total", code="zai.quota_exceeded")
    assert quota == storm["failed_by_code"]["zai.quota_exceeded"] == STORM * len(LANGS)
    calls = total(after, "zai_l10n_upstream_calls_total", outcome="zai.quota_exceeded")
    assert calls == STORM * len(LANGS)
    record("upstream-chaos", {"database": "postgresql", "chaos": chaos, "storm": storm})


async def chaos_phase(
    stack: Stack, sim: Any, results: TopicCollector, dlq: TopicCollector
) -> dict[str, Any]:
    bodies = [body(run_id(), i) for i in range(REQUESTS)]
    expected = Expected()
    for b in bodies:
        expected.request(b)
    started = time.monotonic()
    await publish(stack.bootstrap, stack.requests, list(bodies))
    last = await settle(expected, results, dlq, within=pick(short=180, long=900))
    got = tally(expected, results, dlq)
    assert got.lost == 0 and got.strays == 0, got

    drawn = predicted(sim.calls("agents"), bodies)
    outcome = {(e["request_id"], e["target_lang"]): e for e in (r.event for r in results.received)}
    assert set(drawn) == set(outcome), "a language that made no call, or a call of no language"
    wrong = []
    for key, faults in drawn.items():
        event, last_fault = outcome[key], faults[-1]
        if last_fault == "ok":
            right = event["type"] == "translation.completed" and "ok" not in faults[:-1]
        else:
            right = (
                event.get("error_code") == CODE_OF[last_fault]
                and event["retryable"] is True
                and len(faults) == 1 + MAX_RETRIES
            )
        if not right or len(faults) > 1 + MAX_RETRIES:
            wrong.append(f"{key}: calls drew {faults}, event {event}")
    assert wrong == [], "\n".join(wrong[:10])
    counters = sim.counters()
    attempts = Counter(len(f) for f in drawn.values())
    return got.figures() | {
        "runs": len(drawn),
        "upstream_calls": counters["calls"]["agents"],
        "faults_injected": counters["faults_injected"],
        "calls_per_language": dict(sorted(attempts.items())),
        "seconds": round(last - started, 1),
    }


async def storm_phase(
    stack: Stack, sim: Any, results: TopicCollector, dlq: TopicCollector
) -> dict[str, Any]:
    sim.script("agents", rates={"429_1113": 1.0})
    results.received.clear()
    dlq.received.clear()
    before = sim.counters()["calls"]["agents"]
    bodies = [body(f"storm-{run_id()}", i) for i in range(STORM)]
    expected = Expected()
    for b in bodies:
        expected.request(b)
    started = time.monotonic()
    await publish(stack.bootstrap, stack.requests, list(bodies))
    last = await settle(expected, results, dlq, within=120)
    got = tally(expected, results, dlq)
    assert got.lost == 0 and got.completed == 0, got
    assert got.failed == {"zai.quota_exceeded": STORM * len(LANGS)}
    calls = sim.counters()["calls"]["agents"] - before
    assert calls == STORM * len(LANGS), "a balance error is never retried"
    return got.figures() | {"upstream_calls": calls, "seconds": round(last - started, 1)}


async def open_jobs(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT state, count(*) FROM job GROUP BY state"))
            ).all()
    finally:
        await engine.dispose()
    return {state: int(n) for state, n in rows if state != "done"}
