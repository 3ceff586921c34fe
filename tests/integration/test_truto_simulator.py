"""The Truto simulator over real HTTP, in front of the Z.ai simulator: auth, tools, the proxy's
envelopes and forwarded headers, account states, faults, rate limits, Idempotency-Key replay,
and the counters that prove what reached it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.sim.state import key_hash
from service.sim.testing import SimulatorHandle, TrutoSimHandle

TOKEN = "truto-token-for-tests"
ZAI_KEY = "zai-key-id.zai-secret-held-by-truto"
ACCOUNT = "ia-acme"
AGENT_BODY = {
    "agent_id": "general_translation",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Open the valve"}]}],
    "custom_variables": {"source_lang": "en", "target_lang": "de"},
}


@pytest.fixture
def http(truto: TrutoSimHandle, sim: SimulatorHandle) -> Iterator[httpx.Client]:
    truto.add_account(ACCOUNT, ZAI_KEY)
    with httpx.Client(
        base_url=truto.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as client:
        yield client


def agents(http: httpx.Client, key: str | None = None, **params: str) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    query = {"integrated_account_id": ACCOUNT, **params}
    return http.post("/proxy/agents", params=query, json=AGENT_BODY, headers=headers)


def test_token_auth_is_truto_own_error(truto: TrutoSimHandle, http: httpx.Client) -> None:
    reply = httpx.post(f"{truto.base_url}/proxy/agents", params={"integrated_account_id": ACCOUNT})
    assert reply.status_code == 401
    assert reply.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Invalid API token",
    }
    truto.configure(tokens=[TOKEN])
    wrong = httpx.get(
        f"{truto.base_url}/integrated-account/{ACCOUNT}/tools",
        headers={"Authorization": "Bearer other"},
    )
    assert wrong.status_code == 401
    assert http.get(f"/integrated-account/{ACCOUNT}/tools").status_code == 200


def test_tools_of_the_zai_integration(http: httpx.Client) -> None:
    tools = http.get(f"/integrated-account/{ACCOUNT}/tools").json()
    assert len(tools) == 14
    by_name = {t["name"]: t for t in tools}
    for name in (
        "create_a_z_ai_paas_file",
        "create_a_z_ai_agent",
        "create_a_z_ai_agents_async_result",
    ):
        assert by_name[name]["method"] == "create" and by_name[name]["resource"]
    assert set(tools[0]) >= {
        "name",
        "resource",
        "method",
        "description",
        "query_schema",
        "body_schema",
    }
    assert not [t for t in tools if t["method"] in ("list", "delete") and "file" in t["name"]]
    assert http.get("/integrated-account/ia-unknown/tools").status_code == 404


def test_proxy_forwards_with_the_accounts_key(
    truto: TrutoSimHandle, sim: SimulatorHandle, http: httpx.Client
) -> None:
    reply = agents(http, "k1")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "success" and body["choices"][0]["messages"][0]["content"]["text"]
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(reply.headers)
    assert reply.headers["ratelimit-limit"] == "50" and reply.headers["ratelimit-remaining"] == "49"
    assert sim.counters()["by_key"] == {key_hash(ZAI_KEY): 1}  # Z.ai saw the account's key
    counters = truto.counters()
    assert counters["proxy_calls"] == {"agents": 1} and counters["forwarded"] == {"agents": 1}
    assert counters["zai_keys_seen"] == 0 and counters["by_account"] == {ACCOUNT: 1}


def test_account_is_required_and_must_exist(http: httpx.Client) -> None:
    assert http.post("/proxy/agents", json=AGENT_BODY).status_code == 400
    unknown = http.post("/proxy/agents", params={"integrated_account_id": "ia-x"}, json=AGENT_BODY)
    assert unknown.status_code == 404 and "truto_is_remote_error" not in unknown.json()
    assert http.post("/proxy/nothing", params={"integrated_account_id": ACCOUNT}).status_code == 404


def test_provider_errors_come_wrapped_with_their_headers(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.script("agents", ["429_1302_retry_after_3"])
    reply = agents(http)
    assert reply.status_code == 429 and reply.headers["retry-after"] == "3"
    body = reply.json()
    assert body["truto_is_remote_error"] is True and body["statusCode"] == 429
    assert body["raw_response"]["error"]["code"] == "1302"
    assert body["message"] == "Rate limit reached for requests"
    assert agents(http).status_code == 200  # a provider error changes nothing at Truto


def test_a_refused_key_needs_reauth_until_reconnected(
    truto: TrutoSimHandle, sim: SimulatorHandle, http: httpx.Client
) -> None:
    sim.configure(api_keys=["zai-good.key"])  # the account's key is no longer valid at Z.ai
    first = agents(http)
    assert first.status_code == 401 and first.json()["truto_is_remote_error"] is True
    assert first.json()["raw_response"]["error"]["code"] == "1002"
    assert agents(http).status_code == 401  # stays, without reaching Z.ai again
    assert truto.counters()["forwarded"] == {"agents": 1}
    assert truto.counters()["accounts"][0]["status"] == "needs_reauth"
    truto.reconnect(ACCOUNT, zai_key="zai-good.key")
    assert agents(http).status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "forwarded", "sticky"),
    [
        ("502", 502, 0, False),
        ("504", 504, 1, False),
        ("remote_401", 401, 0, True),
        ("blocked", 503, 0, True),
    ],
)
def test_faults(
    truto: TrutoSimHandle, http: httpx.Client, fault: str, status: int, forwarded: int, sticky: bool
) -> None:
    truto.script([fault])
    reply = agents(http)
    assert reply.status_code == status
    assert reply.json().get("truto_is_remote_error", False) is (fault == "remote_401")
    assert sum(truto.counters()["forwarded"].values()) == forwarded
    assert (agents(http).status_code == status) is sticky
    if fault == "remote_401":
        truto.reconnect(ACCOUNT)
    if fault == "blocked":
        truto.add_account(ACCOUNT, ZAI_KEY, blocked=False)
    assert agents(http).status_code == 200


def test_sandbox_accounts_cannot_write(truto: TrutoSimHandle, http: httpx.Client) -> None:
    truto.add_account(ACCOUNT, ZAI_KEY, sandbox=True)
    reply = agents(http)
    assert reply.status_code == 405 and "Sandbox" in reply.json()["message"]


def test_rate_limits_answer_429_with_retry_after(truto: TrutoSimHandle, http: httpx.Client) -> None:
    truto.configure(account_limit=3, window_seconds=1.0, retry_after=1)
    assert [agents(http).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = agents(http)
    assert limited.headers["retry-after"] == "1" and limited.headers["ratelimit-limit"] == "3"
    assert limited.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Too many requests",
    }
    assert truto.counters()["rate_limited"] == {f"account:{ACCOUNT}": 2}
    time.sleep(1.1)
    assert agents(http).status_code == 200
    truto.configure(token_limit=1)
    assert http.get(f"/integrated-account/{ACCOUNT}/tools").status_code == 429  # the token's


def test_idempotency_key_replays_a_success(
    truto: TrutoSimHandle, sim: SimulatorHandle, http: httpx.Client
) -> None:
    first, again = agents(http, "same-key"), agents(http, "same-key")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert sim.counters()["translations"] == 1 and truto.counters()["replays"] == 1
    assert agents(http, "other-key").headers.get("idempotent-replayed") is None
    assert sim.counters()["translations"] == 2


def test_errors_are_not_replayed(truto: TrutoSimHandle, http: httpx.Client) -> None:
    truto.script(["502"])
    assert agents(http, "k").status_code == 502
    assert agents(http, "k").status_code == 200  # the retry reaches Z.ai


def test_multipart_needs_passthrough(
    truto: TrutoSimHandle, sim: SimulatorHandle, http: httpx.Client
) -> None:
    files = {"file": ("g.txt", b"en\tde\nvalve\tVentil\n", "application/octet-stream")}
    query = {"integrated_account_id": ACCOUNT}
    refused = http.post("/proxy/paas_files", params=query, data={"purpose": "agent"}, files=files)
    assert refused.status_code == 400 and "truto_body_passthrough" in refused.json()["message"]
    query["truto_body_passthrough"] = "true"
    stored = http.post("/proxy/paas_files", params=query, data={"purpose": "agent"}, files=files)
    assert stored.status_code == 200 and stored.json()["id"].startswith("file-")
    (file,) = sim.files()
    assert file["key"] == key_hash(ZAI_KEY) and file["terms"] == [["valve", "Ventil"]]


def test_a_zai_key_sent_by_a_client_is_counted(truto: TrutoSimHandle, http: httpx.Client) -> None:
    agents(http)
    assert truto.counters()["zai_keys_seen"] == 0
    http.post(
        "/proxy/agents", params={"integrated_account_id": ACCOUNT}, headers={"X-Key": ZAI_KEY}
    )
    assert truto.counters()["zai_keys_seen"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_truto/faults", {"script": ["teapot"]}, 400),
        ("/_truto/accounts/ia-none/reconnect", {}, 404),
        ("/_truto/accounts", {"id": "ia-new"}, 400),  # a new account needs its Z.ai key
        ("/_truto/config", {"account_limit": 0}, 400),
    ],
)
def test_control_api_rejects_bad_calls(
    truto: TrutoSimHandle, path: str, body: dict[str, Any], status: int
) -> None:
    assert httpx.post(f"{truto.base_url}{path}", json=body).status_code == status


def test_accounts_are_shown_without_keys(truto: TrutoSimHandle) -> None:
    truto.add_account(ACCOUNT, ZAI_KEY)
    listed = httpx.get(f"{truto.base_url}/_truto/accounts").json()
    assert listed[0]["id"] == ACCOUNT and ZAI_KEY not in str(listed)
    assert ZAI_KEY not in str(truto.counters())
