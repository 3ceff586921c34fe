from __future__ import annotations

import pytest

from service.sim.faults import (
    FAULT_NAMES,
    FaultError,
    FaultPlan,
    Kind,
    Route,
    parse_fault,
    render_message,
)


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("429_1302", 429, "1302"),
        ("429_1303", 429, "1303"),
        ("429_1305", 429, "1305"),
        ("429_1113", 429, "1113"),
        ("429_1308", 429, "1308"),
        ("429_1304", 429, "1304"),
        ("400_1210", 400, "1210"),
        ("400_1214", 400, "1214"),
        ("400_1301", 400, "1301"),
        ("401_1002", 401, "1002"),
        ("434", 434, "434"),
        ("500", 500, "500"),
        ("503", 503, "503"),
        ("1234", 500, "1234"),
    ],
)
def test_error_faults(name: str, status: int, code: str) -> None:
    fault = parse_fault(name)
    assert fault is not None
    assert (fault.kind, fault.status, fault.code, fault.retry_after) == (
        Kind.error,
        status,
        code,
        None,
    )


def test_ok_is_no_fault() -> None:
    assert parse_fault("ok") is None


def test_retry_after_variant() -> None:
    fault = parse_fault("429_1302_retry_after_2")
    assert fault is not None
    assert (fault.code, fault.retry_after, fault.name) == ("1302", 2, "429_1302_retry_after_2")


def test_retry_after_needs_an_error_fault() -> None:
    with pytest.raises(FaultError):
        parse_fault("drop_retry_after_2")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("slow", Kind.slow), ("drop", Kind.drop), ("malformed_json", Kind.malformed_json)],
)
def test_transport_faults_apply_to_every_route(name: str, kind: Kind) -> None:
    for route in Route:
        fault = parse_fault(name, route)
        assert fault is not None and fault.kind is kind


@pytest.mark.parametrize("reason", ["sensitive", "length", "network_error"])
def test_finish_reason_faults(reason: str) -> None:
    fault = parse_fault(reason, Route.async_result)
    assert fault is not None and (fault.kind, fault.finish_reason) == (Kind.finish_reason, reason)


@pytest.mark.parametrize("name", ["sensitive", "async_failed"])
def test_agent_only_faults_are_refused_on_files_routes(name: str) -> None:
    with pytest.raises(FaultError, match="only to agents"):
        parse_fault(name, Route.files_upload)


def test_unknown_fault() -> None:
    with pytest.raises(FaultError, match="unknown fault"):
        parse_fault("429_9999")


def test_every_listed_name_parses() -> None:
    for name in FAULT_NAMES:
        parse_fault(name, Route.agents)


def test_render_message_fills_reset_time_and_error_id() -> None:
    f1308, f1234 = parse_fault("429_1308"), parse_fault("1234")
    assert f1308 is not None and f1234 is not None
    assert render_message(f1308, "2030-01-01 00:00:00", "x").endswith(
        "reset at 2030-01-01 00:00:00"
    )
    assert "error id: abc123" in render_message(f1234, "", "abc123")


def names(plan: FaultPlan, calls: int) -> list[str]:
    return [f.name if (f := plan.next_fault()) else "ok" for _ in range(calls)]


def test_script_is_consumed_one_entry_per_call_then_no_faults() -> None:
    plan = FaultPlan.build(Route.agents, ["429_1302", "ok", "500"])
    assert names(plan, 5) == ["429_1302", "ok", "500", "ok", "ok"]


def test_rates_apply_after_the_script_and_are_reproducible_with_a_seed() -> None:
    first = names(FaultPlan.build(Route.agents, ["drop"], {"500": 0.3, "slow": 0.2}, seed=7), 400)
    again = names(FaultPlan.build(Route.agents, ["drop"], {"500": 0.3, "slow": 0.2}, seed=7), 400)
    assert first == again
    assert first[0] == "drop"
    rest = first[1:]
    assert 0.2 < rest.count("500") / len(rest) < 0.4
    assert 0.1 < rest.count("slow") / len(rest) < 0.3


def test_a_rate_of_one_always_fires() -> None:
    assert names(FaultPlan.build(Route.files_list, rates={"503": 1.0}), 3) == ["503"] * 3


@pytest.mark.parametrize("rates", [{"500": 0.7, "503": 0.5}, {"500": -0.1}, {"500": 1.5}])
def test_bad_rates(rates: dict[str, float]) -> None:
    with pytest.raises(FaultError):
        FaultPlan.build(Route.agents, rates=rates)


def test_describe_shows_the_remaining_script() -> None:
    plan = FaultPlan.build(Route.agents, ["500", "ok", "drop"], {"503": 0.1})
    plan.next_fault()
    assert plan.describe() == {"route": "agents", "script": ["ok", "drop"], "rates": {"503": 0.1}}


@pytest.mark.parametrize("name", ["placeholder_drop", "placeholder_duplicate", "glossary_drop"])
def test_content_faults(name: str) -> None:
    fault = parse_fault(name)
    assert fault is not None and fault.kind is Kind.content and fault.status == 200
    assert name in FAULT_NAMES
    with pytest.raises(FaultError):
        parse_fault(name, Route.files_upload)
