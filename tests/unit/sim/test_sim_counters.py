from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.sim.config import SimConfig
from service.sim.faults import FaultPlan, Route
from service.sim.server import SimApp
from service.sim.wire import sent_target_lang

AUTH = {"Authorization": "Bearer unit.key"}


def agents_body(target: str | None) -> dict[str, Any]:
    variables = {"target_lang": target} if target else {}
    return {
        "agent_id": "general_translation",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "custom_variables": variables,
    }


@pytest.mark.parametrize(
    ("raw", "lang"),
    [
        (b'{"custom_variables": {"target_lang": "de"}}', "de"),
        (b'{"custom_variables": {"target_lang": 7}}', ""),
        (b'{"custom_variables": []}', ""),
        (b"[]", ""),
        (b"{", ""),
        (b"", ""),
    ],
)
def test_sent_target_lang_is_lenient(raw: bytes, lang: str) -> None:
    assert sent_target_lang(raw) == lang


async def test_agents_calls_are_counted_per_target_including_faulted_ones() -> None:
    app = SimApp(SimConfig())
    app.state.plans[Route.agents] = FaultPlan.build(Route.agents, ["400_1301"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        faulted = await http.post("/api/v1/agents", json=agents_body("de"), headers=AUTH)
        ok = await http.post("/api/v1/agents", json=agents_body("fr"), headers=AUTH)
        alias = await http.post("/api/paas/v4/v1/agents", json=agents_body("de"), headers=AUTH)
        default = await http.post("/api/v1/agents", json=agents_body(None), headers=AUTH)
        broken = await http.post("/api/v1/agents", content=b"{", headers=AUTH)
        counters = (await http.get("/_sim/counters")).json()
    # The replies themselves are what they always were.
    assert (faulted.status_code, faulted.json()["error"]["code"]) == (400, "1301")
    assert (ok.status_code, alias.status_code, default.status_code) == (200, 200, 200)
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "1210")
    assert counters["agents_by_target"] == {"de": 2, "fr": 1, "": 2}
    assert sum(counters["agents_by_target"].values()) == counters["calls"]["agents"]
    app.state.reset()
    assert app.state.snapshot()["agents_by_target"] == {}


async def test_call_log_tells_which_fault_each_call_drew_in_arrival_order() -> None:
    app = SimApp(SimConfig())
    app.state.plans[Route.agents] = FaultPlan.build(Route.agents, ["429_1302", "ok", "500"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        for target in ("de", "fr", "it", "es"):
            await http.post("/api/v1/agents", json=agents_body(target), headers=AUTH)
        await http.post("/api/v1/agents", json=agents_body("de"))  # no key: never logged
        await http.get("/api/paas/v4/files", headers=AUTH)
        agents = (await http.get("/_sim/calls?route=agents")).json()
        everything = (await http.get("/_sim/calls")).json()
    assert [(c["target_lang"], c["text"], c["fault"]) for c in agents] == [
        ("de", "Hi", "429_1302"),
        ("fr", "Hi", "ok"),
        ("it", "Hi", "500"),
        ("es", "Hi", "ok"),
    ]
    assert [c["route"] for c in everything] == ["agents"] * 4 + ["files_list"]
    app.state.reset()
    assert list(app.state.calls) == []
