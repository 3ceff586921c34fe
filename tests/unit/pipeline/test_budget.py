"""Monthly token budgets over fakes: jobs are admitted against what is left (reserved before any
agent call, released with the completion), refused with the quota code without an agent call,
and a tokenizer outage only changes how the estimate is counted."""

from __future__ import annotations

from typing import Any

from service.metrics import Metrics
from service.pipeline.jobs.budget import BudgetGate, refresh
from service.pipeline.jobs.executor import Executor, ExecutorConfig
from service.pipeline.ports import Held, Standing
from tests.unit.pipeline.fakes import Rig, ScriptedZai, request, rig
from tests.unit.pipeline.test_executor import OWNER, done, running, until

# "Hello" is 2 tokens (the fake tokenizer counts like the simulator, 4 characters a token); a
# language reserves ceil(2 * 2.5) = 5, and a call uses 5 (3 prompt + 2 completion).
PER_LANGUAGE = 5


def gated(r: Rig, **config: Any) -> Executor:
    cfg = ExecutorConfig(owner=OWNER, results_topic="results", idle_poll=0.01, **config)
    gate = BudgetGate(r.budgets, r.deps.estimator, r.metrics, r.deps.durable)
    return Executor(r.deps, r.tenants, r.glossaries, cfg, budget=gate)


def gauge(r: Rig, name: str) -> float:
    value = r.metrics.registry.get_sample_value(name, {"tenant": "acme"})
    assert value is not None, name
    return value


async def test_without_a_budget_nothing_is_counted_or_reserved() -> None:
    r = rig()
    r.store.add(request("a"))
    async with running(gated(r)):
        await until(lambda: done(r, "a"))
    usage = r.store.outcomes("a")["de"]["usage"]
    assert (usage["estimated_tokens"], usage["estimate"]) == (0, None)
    assert r.zai.counted == [] and r.budgets.reservations == 0


async def test_a_job_within_the_budget_reserves_then_settles_its_usage() -> None:
    r = rig()
    r.budgets.limits["acme"] = 100
    r.store.add(request("a", target_langs=["de", "fr"]))
    async with running(gated(r)):
        await until(lambda: done(r, "a"))
    outcomes = r.store.outcomes("a")
    assert {o["usage"]["estimated_tokens"] for o in outcomes.values()} == {PER_LANGUAGE}
    assert {o["usage"]["estimate"] for o in outcomes.values()} == {"tokenizer"}
    assert r.zai.counted == ["Hello"]
    assert r.budgets.held == {} and r.budgets.spent["acme"] == 10  # released, usage added
    assert gauge(r, "zai_l10n_tenant_budget_reserved_tokens") == 10  # as of its reservation
    assert gauge(r, "zai_l10n_tenant_budget_tokens") == 100


async def test_jobs_beyond_what_is_left_are_refused_before_any_agent_call() -> None:
    r = rig()
    r.budgets.limits["acme"] = 12  # room for two jobs of one language
    for i in range(4):
        r.store.add(request(f"j{i}", text=f"Hello {i}"))  # 2 tokens each, none from memory
    async with running(gated(r, max_in_flight=1)):
        await until(lambda: all(done(r, f"j{i}") for i in range(4)))
    outcomes = [r.store.outcomes(f"j{i}")["de"] for i in range(4)]
    refused = [o for o in outcomes if o["type"] == "translation.failed"]
    assert len(refused) == 2 and len(r.zai.calls) == 2
    assert {(o["error_code"], o["retryable"]) for o in refused} == {
        ("quota.tenant_budget_exceeded", True)
    }
    assert "2 of 12 tokens left" in refused[0]["message"]
    assert r.budgets.spent["acme"] == 10 <= 12
    assert gauge(r, "zai_l10n_tenant_budget_refused_total") == 2


async def test_an_exhausted_budget_refuses_without_asking_the_tokenizer() -> None:
    r = rig()
    r.budgets.limits["acme"] = 100
    r.budgets.spent["acme"] = 100
    r.store.add(request("x"))
    async with running(gated(r)):
        await until(lambda: done(r, "x"))
    assert r.store.outcomes("x")["de"]["error_code"] == "quota.tenant_budget_exceeded"
    assert r.zai.counted == [] and r.zai.calls == []


async def test_a_restarted_job_keeps_its_reservation() -> None:
    r = rig()
    r.budgets.limits["acme"] = 5  # exactly the reservation it already holds
    job_id = r.store.add(request("again"))
    r.budgets.held[job_id] = ("acme", PER_LANGUAGE, Held(PER_LANGUAGE, "characters"))
    async with running(gated(r)):
        await until(lambda: done(r, "again"))
    outcome = r.store.outcomes("again")["de"]
    assert outcome["type"] == "translation.completed"
    assert (outcome["usage"]["estimated_tokens"], outcome["usage"]["estimate"]) == (
        PER_LANGUAGE,
        "characters",
    )
    assert r.zai.counted == [] and r.budgets.reservations == 0


async def test_a_tokenizer_outage_admits_on_a_character_estimate() -> None:
    r = rig(ScriptedZai(tokenizer_down=True))
    r.budgets.limits["acme"] = 100
    r.store.add(request("o"))
    async with running(gated(r)):
        await until(lambda: done(r, "o"))
    outcome = r.store.outcomes("o")["de"]
    assert outcome["type"] == "translation.completed"
    # "Hello": ceil(5 / 3) = 2 tokens estimated from characters, 5 reserved per language.
    assert (outcome["usage"]["estimated_tokens"], outcome["usage"]["estimate"]) == (5, "characters")
    sample = r.metrics.registry.get_sample_value(
        "zai_l10n_token_estimates_total", {"method": "characters"}
    )
    assert sample == 1


async def test_a_misconfigured_job_reserves_nothing() -> None:
    r = rig()
    r.budgets.limits["acme"] = 100
    r.tenants.corrupt.add("acme")
    r.store.add(request("m"))
    async with running(gated(r)):
        await until(lambda: done(r, "m"))
    assert r.store.outcomes("m")["de"]["error_code"] == "tenant.credential_invalid"
    assert r.budgets.reservations == 0 and r.zai.counted == []


def test_refreshed_gauges_follow_the_budgets_and_drop_removed_ones() -> None:
    metrics = Metrics()
    shown = refresh(metrics, {"acme": Standing(1000, 850, 50), "globex": Standing(10, 0, 0)}, set())
    sample = metrics.registry.get_sample_value
    assert sample("zai_l10n_tenant_budget_spent_ratio", {"tenant": "acme"}) == 0.85
    assert sample("zai_l10n_tenant_budget_reserved_tokens", {"tenant": "acme"}) == 50
    shown = refresh(metrics, {"acme": Standing(1000, 0, 0)}, shown)  # a new month; globex gone
    assert shown == {"acme"}
    assert sample("zai_l10n_tenant_budget_spent_ratio", {"tenant": "acme"}) == 0.0
    assert sample("zai_l10n_tenant_budget_tokens", {"tenant": "globex"}) is None
