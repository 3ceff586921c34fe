"""The tokenizer call (`POST {paas}/tokenizer`): directly and through Truto, over
httpx.MockTransport. Same classification and retries as every call; per-call overrides."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from service.zai import errors as e
from service.zai.client import ZaiClient
from service.zai.retry import RetryPolicy
from service.zai.truto import TrutoGateway

from .fakes import API_KEY, FILES, FakeTime, Upstream, error
from .truto_fakes import ACCOUNT, BASE, TOKEN, FakeTruto, own, sent_json

MakeClient = Callable[..., ZaiClient]


def counted(tokens: object) -> httpx.Response:
    body = {
        "id": "t-1",
        "created": 1727156815,
        "request_id": "x",
        "usage": {"prompt_tokens": tokens},
    }
    return httpx.Response(200, json=body)


async def test_count_sends_model_and_one_user_message(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /tokenizer", counted(42))
    async with make_client(tokenizer_model="glm-4.5") as client:
        assert await client.count_tokens("Your invoice is ready") == 42
    (sent,) = upstream.calls("POST /tokenizer")
    assert str(sent.url) == f"{FILES}/tokenizer"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    body = upstream.json("POST /tokenizer")[0]
    assert body["model"] == "glm-4.5"
    assert body["messages"] == [{"role": "user", "content": "Your invoice is ready"}]
    assert body["request_id"] == sent.headers["X-Request-Id"]


async def test_errors_are_classified_and_retried_like_any_call(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /tokenizer", error(429, "1302"), error(500, "500"), counted(7))
    async with make_client() as client:
        assert await client.count_tokens("Hello") == 7
    assert len(upstream.calls("POST /tokenizer")) == 3
    assert len(fake_time.sleeps) == 2

    upstream.script.clear()
    upstream.on("POST /tokenizer", error(401, "1002"))
    async with make_client() as client:
        with pytest.raises(e.ZaiAuthError) as failed:
            await client.count_tokens("Hello")
    assert failed.value.error_code == "zai.auth_failed"
    assert API_KEY not in str(failed.value)


async def test_each_attempt_sends_its_own_request_id(
    upstream: Upstream, make_client: MakeClient
) -> None:
    # Z.ai refuses a reused body request_id with 1231: a retry must not reuse the first one.
    upstream.on("POST /tokenizer", error(500, "500"), error(429, "1302"), counted(7))
    async with make_client() as client:
        assert await client.count_tokens("Hello") == 7
    sent = upstream.calls("POST /tokenizer")
    ids = [body["request_id"] for body in upstream.json("POST /tokenizer")]
    assert len(set(ids)) == 3
    assert ids == [ids[0], f"{ids[0]}-2", f"{ids[0]}-3"]
    assert {r.headers["X-Request-Id"] for r in sent} == {ids[0]}  # one call, three attempts
    assert len({r.headers["Idempotency-Key"] for r in sent}) == 1


async def test_a_per_call_policy_overrides_the_clients(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /tokenizer", error(503, "503"), counted(7))
    async with make_client() as client:
        with pytest.raises(e.ZaiServerError):
            await client.count_tokens("Hello", retry=False, http_timeout=1.0)
    assert len(upstream.calls("POST /tokenizer")) == 1


@pytest.mark.parametrize("usage", [None, {}, {"prompt_tokens": "many"}, {"prompt_tokens": -1}])
async def test_a_reply_without_a_count_is_malformed(
    upstream: Upstream, make_client: MakeClient, usage: object
) -> None:
    upstream.on("POST /tokenizer", httpx.Response(200, json={"id": "t", "usage": usage}))
    async with make_client(retry=RetryPolicy.none()) as client:
        with pytest.raises(e.ZaiMalformedResponse):
            await client.count_tokens("Hello")


async def test_empty_text_makes_no_call(upstream: Upstream, make_client: MakeClient) -> None:
    async with make_client() as client:
        with pytest.raises(e.ZaiInvalidRequest):
            await client.count_tokens("  ")
    assert upstream.requests == []


async def test_through_truto_the_tokenizer_is_its_own_tool(fake_time: FakeTime) -> None:
    truto = FakeTruto()
    truto.on("/proxy/paas_tokenizer", counted(9))
    gateway = TrutoGateway(
        SecretStr(TOKEN),
        BASE,
        transport=httpx.MockTransport(truto.handler),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    client = gateway.client(
        ACCOUNT, retry=RetryPolicy(max_retries=1, base=0.1, rng=random.Random(1))
    )
    try:
        assert await client.count_tokens("Hello") == 9
        (sent,) = truto.calls("/proxy/paas_tokenizer")
        assert sent.method == "POST" and sent.url.params["integrated_account_id"] == ACCOUNT
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
        assert sent_json(sent)["messages"] == [{"role": "user", "content": "Hello"}]
        truto.script["/proxy/paas_tokenizer"] = [own(503, "blocked")]
        with pytest.raises(e.UpstreamAccountBlocked):
            await client.count_tokens("Hello again")
    finally:
        await client.aclose()
        await gateway.aclose()
