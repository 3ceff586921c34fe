"""Budgets and estimates end to end, on the real broker, both databases and the simulator: 200
requests at once against a small budget, and a tokenizer outage.

The budget test makes estimates deliberately low (`BUDGET_TOKENS_PER_SOURCE_TOKEN=1`: a request
reserves about half of what it then uses), so admitted jobs do overshoot their reservations;
the promise is that spending still passes the budget by no more than one batch of jobs in
flight at once (WORKER_TENANT_MAX_IN_FLIGHT jobs, each over by what it used beyond its
reservation), and that every refused request made no agent call.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from service.store import budgets as budget_sql
from service.store import usage
from service.worker.app import WorkerService
from tests.support.pipeline import request, roundtrip, running_worker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

BUDGET = 1000
IN_FLIGHT = 16  # jobs of one tenant at once in the worker: one batch


async def set_budget(w: WorkerService, tokens: int) -> None:
    async with w.engine.begin() as conn:
        await budget_sql.set_budget(conn, "acme", tokens)


async def ledger_totals(w: WorkerService) -> dict[str, int]:
    today = datetime.now(UTC).date()
    async with w.engine.connect() as conn:
        (row,) = await usage.summary(
            conn, start=today.replace(day=1), end=today, group_by="tenant", tenant="acme"
        )
    return {name: row[name] for name in usage.COUNTERS}


def usage_sums(events: list[dict[str, Any]]) -> dict[str, int]:
    done = [e["usage"] for e in events if e["type"] == "translation.completed"]
    sums = {name: sum(u[name] for u in done) for name in usage.FROM_USAGE}
    sums["translations"] = len(done)
    sums["character_estimates"] = sum(u["estimate"] == "characters" for u in done)
    return sums


async def test_two_hundred_requests_against_a_small_budget(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    overrides = {"worker_tenant_max_in_flight": IN_FLIGHT, "budget_tokens_per_source_token": 1.0}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        await set_budget(w, BUDGET)
        messages = [
            request(f"b{i:03d}", text=f"Budget request {i:03d}: please translate this line")
            for i in range(200)
        ]
        started = time.monotonic()
        got = await roundtrip(w, messages, 200)
        elapsed = time.monotonic() - started
        totals = await ledger_totals(w)
    done = [e for e in got if e["type"] == "translation.completed"]
    refused = [e for e in got if e["type"] == "translation.failed"]
    assert {(e["error_code"], e["retryable"]) for e in refused} == {
        ("quota.tenant_budget_exceeded", True)
    }
    spent = sum(e["usage"]["total_tokens"] for e in done)
    over = max(e["usage"]["total_tokens"] - e["usage"]["estimated_tokens"] for e in done)
    print(
        f"\n[budget] {len(done)} admitted, {len(refused)} refused in {elapsed:.1f} s; spent "
        f"{spent} of {BUDGET} (bound {BUDGET + IN_FLIGHT * over}); "
        f"tokenizer calls {sim.counters()['calls'].get('tokenizer', 0)}"
    )
    assert 0 < len(done) < 200 and len(refused) > 100
    assert spent <= BUDGET + IN_FLIGHT * over
    # Every completed request made exactly one agent call; the refused ones none.
    assert sim.counters()["calls"]["agents"] == len(done)
    assert totals == usage_sums(got)  # the ledger is the events' sums, exactly


async def test_a_tokenizer_outage_estimates_from_characters_and_fails_nothing(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    sim.script("tokenizer", [], rates={"503": 1.0})
    long_text = "\n\n".join(f"Paragraph {i}: " + "the invoice is ready " * 20 for i in range(6))
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim):
        await set_budget(w, 10**9)
        got = await roundtrip(
            w,
            [
                request("short", target_langs=["de", "fr"]),
                request("long", text=long_text, target_langs=["ja"]),
            ],
            3,
        )
        # Both jobs may ask before the first failure is back; from then on the account rests
        # (ZAI_TOKENIZER_COOLDOWN) and a later request is estimated without asking.
        asked = sim.counters()["calls"]["tokenizer"]
        got += await roundtrip(w, [request("later", text="Later, the invoice again")], 1)
        totals = await ledger_totals(w)
        estimates = w.metrics.registry.get_sample_value(
            "zai_l10n_token_estimates_total", {"method": "characters"}
        )
    assert all(e["type"] == "translation.completed" for e in got), got
    assert {e["usage"]["estimate"] for e in got} == {"characters"}
    assert all(e["usage"]["estimated_tokens"] > 0 for e in got)
    assert 1 <= asked <= 2 and sim.counters()["calls"]["tokenizer"] == asked
    assert estimates is not None and estimates >= 3
    assert totals["character_estimates"] == 4 and totals == usage_sums(got)
