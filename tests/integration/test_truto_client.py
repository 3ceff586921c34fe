"""Our Z.ai client through the Truto simulator over real HTTP: what each Truto fault does to a
call, and that no Z.ai key ever leaves the service."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from service.sim.state import key_hash
from service.sim.testing import SimulatorHandle, TrutoSimHandle
from service.zai import (
    RetryPolicy,
    TranslateRequest,
    UpstreamAccountBlocked,
    UpstreamReconnectRequired,
    ZaiError,
    ZaiPermissionDenied,
    ZaiQuotaExceeded,
    ZaiServerError,
)
from service.zai.truto import TrutoGateway, TrutoZaiClient

TOKEN = "truto-token-of-the-service"
ZAI_KEY = "customer-zai-id.customer-zai-secret"
ACCOUNT = "ia-7f3c"
REQUEST = TranslateRequest("Check the valve", "de", source_lang="en")

MakeClient = Callable[..., TrutoZaiClient]


@pytest.fixture
async def make(truto: TrutoSimHandle, sim: SimulatorHandle) -> AsyncIterator[MakeClient]:
    truto.add_account(ACCOUNT, ZAI_KEY)
    gateways: list[TrutoGateway] = []
    clients: list[TrutoZaiClient] = []

    def make(account: str = ACCOUNT, **gateway_options: Any) -> TrutoZaiClient:
        gateway = TrutoGateway(SecretStr(TOKEN), truto.base_url, **gateway_options)
        gateways.append(gateway)
        client = gateway.client(
            account,
            retry=RetryPolicy(max_retries=3, base=0.01, max=0.05, rng=random.Random(3)),
            read_timeout=5.0,
            poll_initial=0.05,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for gateway in gateways:
        await gateway.aclose()


def assert_no_zai_key_sent(truto: TrutoSimHandle) -> None:
    counters = truto.counters()
    assert counters["zai_keys_seen"] == 0
    assert set(counters["tokens"]) == {key_hash(TOKEN)}  # only ever the Truto token
    assert counters["without_idempotency_key"] == 0


async def test_glossary_upload_and_translation_through_the_proxy(
    truto: TrutoSimHandle, sim: SimulatorHandle, make: MakeClient
) -> None:
    client = make()
    uploaded = await client.upload_file("glossary.txt", b"en\tde\nvalve\tVentil\n")
    result = await client.translate(
        TranslateRequest("Check the valve", "de", source_lang="en", glossary=uploaded.id)
    )
    assert result.text == "[de] Check the Ventil"
    assert sim.counters()["by_key"] == {key_hash(ZAI_KEY): 2}  # Truto injected the key
    assert sim.files()[0]["key"] == key_hash(ZAI_KEY)
    counters = truto.counters()
    assert counters["forwarded"] == {"paas_files": 1, "agents": 1}
    assert counters["tools_calls"] == 1  # resources read once
    passthrough = [r for r in truto.requests() if r["path"] == "/proxy/paas_files"]
    assert passthrough[0]["query"]["truto_body_passthrough"] == "true"
    assert passthrough[0]["content_type"].startswith("multipart/form-data")
    assert await client.can_delete_files() is False
    assert_no_zai_key_sent(truto)


async def test_tokens_are_counted_through_the_proxy(
    truto: TrutoSimHandle, sim: SimulatorHandle, make: MakeClient
) -> None:
    assert await make().count_tokens("Check the valve") == 4  # ceil(15 / 4)
    assert truto.counters()["forwarded"] == {"paas_tokenizer": 1}
    assert sim.counters()["by_key"] == {key_hash(ZAI_KEY): 1}
    assert_no_zai_key_sent(truto)


@pytest.mark.parametrize("field", ["message", "messages"])
async def test_async_results_are_polled_through_the_proxy(
    truto: TrutoSimHandle, sim: SimulatorHandle, make: MakeClient, field: str
) -> None:
    sim.configure(mode="async", async_pending_seconds=0.2, async_result_field=field)
    result = await make().translate(REQUEST)
    assert result.text == "[de] Check the valve" and result.polls >= 2
    assert truto.counters()["forwarded"]["agents_async_result"] == result.polls
    assert_no_zai_key_sent(truto)


async def test_remote_401_asks_for_a_reconnect_once_then_works_after_it(
    truto: TrutoSimHandle, sim: SimulatorHandle, make: MakeClient
) -> None:
    client = make()
    truto.script(["remote_401"])
    with pytest.raises(UpstreamReconnectRequired) as caught:
        await client.translate(REQUEST)
    assert caught.value.attempts == 1 and not caught.value.retryable
    with pytest.raises(UpstreamReconnectRequired):
        await client.translate(REQUEST)  # needs_reauth stays
    assert truto.counters()["proxy_calls"]["agents"] == 2 and sim.counters()["translations"] == 0
    truto.reconnect(ACCOUNT)
    assert (await client.translate(REQUEST)).text == "[de] Check the valve"  # same client


@pytest.mark.parametrize(
    ("fault", "cls"),
    [("blocked", UpstreamAccountBlocked), ("sandbox", ZaiPermissionDenied)],
)
async def test_blocked_and_sandbox_accounts_fail_fast(
    truto: TrutoSimHandle, make: MakeClient, fault: str, cls: type[ZaiError]
) -> None:
    if fault == "sandbox":
        truto.add_account(ACCOUNT, ZAI_KEY, sandbox=True)
    else:
        truto.script(["blocked"])
    with pytest.raises(cls) as caught:
        await make().translate(REQUEST)
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert truto.counters()["proxy_calls"]["agents"] == 1


@pytest.mark.parametrize("fault", ["502", "504"])
async def test_gateway_faults_are_retried_with_the_same_idempotency_key(
    truto: TrutoSimHandle, sim: SimulatorHandle, make: MakeClient, fault: str
) -> None:
    truto.script([fault])
    result = await make().translate(REQUEST)
    assert result.attempts == 2
    calls = [r for r in truto.requests() if r["path"] == "/proxy/agents"]
    assert [c["status"] for c in calls] == [int(fault), 200]
    assert calls[0]["idempotency_key"] == calls[1]["idempotency_key"]
    # A 504 reached Z.ai before it failed: the retry's fresh body request_id avoids a 1231.
    assert sim.counters()["translations"] == (2 if fault == "504" else 1)
    bodies = [r["body"]["request_id"] for r in sim.requests("agents")]
    assert len(set(bodies)) == len(bodies)


async def test_gateway_faults_exhaust_the_retries(truto: TrutoSimHandle, make: MakeClient) -> None:
    truto.script(["502"] * 4)
    with pytest.raises(ZaiServerError) as caught:
        await make().translate(REQUEST)
    assert caught.value.attempts == 4 and caught.value.retryable


async def test_provider_errors_keep_their_zai_meaning(
    sim: SimulatorHandle, make: MakeClient
) -> None:
    sim.script("agents", ["429_1113"])
    with pytest.raises(ZaiQuotaExceeded) as caught:
        await make().translate(REQUEST)
    assert (caught.value.code, caught.value.attempts) == ("1113", 1)
    sim.script("agents", ["429_1302_retry_after_1", "ok"])
    assert (await make().translate(REQUEST)).attempts == 2


async def test_truto_rate_limit_is_waited_out(truto: TrutoSimHandle, make: MakeClient) -> None:
    # The service's budget (3 per 1 s) is looser than Truto's (2 per 1 s): Truto answers 429,
    # the call waits Retry-After and goes through.
    truto.configure(account_limit=2, window_seconds=1.0, retry_after=1)
    client = make(account_limit=3, period=1.0)
    results = [await client.translate(REQUEST) for _ in range(3)]
    assert [r.attempts for r in results] == [1, 1, 2]
    assert truto.counters()["rate_limited"] == {f"account:{ACCOUNT}": 1}
