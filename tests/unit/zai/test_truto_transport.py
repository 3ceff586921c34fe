"""ZaiClient through the Truto transport, over httpx.MockTransport: rewriting, discovery,
unwrapping, classification and retries, Idempotency-Key, budgets. No real time passes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.zai import errors as e
from service.zai.models import TranslateRequest, Translation
from service.zai.retry import RetryPolicy
from service.zai.truto import TrutoGateway, TrutoZaiClient, account_key, classify_truto
from service.zai.truto.tools import Operation
from service.zai.truto.transport import unwrap

from .fakes import FakeTime, ok_translation, pending
from .truto_fakes import ACCOUNT, BASE, TOKEN, FakeTruto, own, remote, sent_json

REQUEST = TranslateRequest("Hello", "de", source_lang="en", request_id="R")
FILE = {"id": "file-1", "object": "file", "bytes": 3, "filename": "g.txt", "purpose": "agent"}
MakeClient = Callable[..., TrutoZaiClient]


@pytest.fixture
def truto() -> FakeTruto:
    return FakeTruto()


@pytest.fixture
async def make(truto: FakeTruto, fake_time: FakeTime) -> AsyncIterator[MakeClient]:
    gateways: list[TrutoGateway] = []
    clients: list[TrutoZaiClient] = []

    def make(account: str = ACCOUNT, gateway: TrutoGateway | None = None, **kw: Any) -> Any:
        if gateway is None:
            gateway = TrutoGateway(
                SecretStr(TOKEN),
                BASE,
                transport=httpx.MockTransport(truto.handler),
                clock=fake_time.clock,
                sleep=fake_time.sleep,
                **kw,
            )
            gateways.append(gateway)
        client = gateway.client(
            account,
            retry=RetryPolicy(max_retries=3, base=0.1, max=1.0, rng=random.Random(1)),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            poll_initial=0.5,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for gateway in gateways:
        await gateway.aclose()


# --- rewriting -------------------------------------------------------------------------------


async def test_agent_call_goes_to_the_accounts_proxy_resource(
    truto: FakeTruto, make: MakeClient
) -> None:
    truto.on("/proxy/agents", ok_translation("Hallo"))
    result = await make().translate(REQUEST)
    assert isinstance(result, Translation) and result.text == "Hallo"
    (sent,) = truto.calls("/proxy/agents")
    assert sent.method == "POST" and str(sent.url).startswith(f"{BASE}/proxy/agents?")
    assert sent.url.params["integrated_account_id"] == ACCOUNT
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"  # the Truto token, no Z.ai key
    assert sent.headers["idempotency-key"] and sent.headers["x-request-id"] == "R"
    assert sent.headers["content-type"] == "application/json"
    body = sent_json(sent)
    assert body["agent_id"] == "general_translation" and body["request_id"] == "R"
    (tools,) = truto.calls("tools")
    assert tools.url.path == f"/integrated-account/{ACCOUNT}/tools"
    assert tools.headers["authorization"] == f"Bearer {TOKEN}"


async def test_glossary_upload_is_multipart_passthrough(truto: FakeTruto, make: MakeClient) -> None:
    truto.on("/proxy/paas_files", httpx.Response(200, json=FILE))
    uploaded = await make().upload_file("g.txt", b"a\tb\n")
    assert uploaded.id == "file-1"
    (sent,) = truto.calls("/proxy/paas_files")
    assert dict(sent.url.params) == {
        "integrated_account_id": ACCOUNT,
        "truto_body_passthrough": "true",
    }
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    boundary = sent.headers["content-type"].split("boundary=")[1]
    assert boundary.encode() in sent.content
    assert b'name="purpose"' in sent.content and b'filename="g.txt"' in sent.content
    assert b"a\tb\n" in sent.content


async def test_async_result_is_polled_through_its_resource(
    truto: FakeTruto, make: MakeClient
) -> None:
    done = {
        "status": "success",
        "async_id": "A1",
        "choices": [
            {
                "finish_reason": "stop",
                "message": [{"role": "assistant", "content": [{"type": "text", "text": "Hi"}]}],
            }
        ],
    }
    truto.on("/proxy/agents", pending("A1"))
    truto.on("/proxy/agents_async", pending("A1"), httpx.Response(200, json=done))
    result = await make().translate(REQUEST)
    assert (result.text, result.polls) == ("Hi", 2)
    polls = truto.calls("/proxy/agents_async")
    assert [sent_json(p) for p in polls] == [
        {"agent_id": "general_translation", "async_id": "A1"}
    ] * 2
    assert polls[0].headers["idempotency-key"] != polls[1].headers["idempotency-key"]


def test_result_envelopes_are_unwrapped() -> None:
    body = {"id": "x", "choices": []}
    assert unwrap(Operation.agents, body) is body  # create answers the upstream body as is
    assert unwrap(Operation.agents, {"result": body, "next_cursor": None}) == body
    listed = unwrap(Operation.list_files, {"result": [FILE], "next_cursor": "c2"})
    assert listed == {"object": "list", "data": [FILE], "has_more": True}
    # An upstream body that merely has a `result` field is not an envelope.
    assert unwrap(Operation.agents, {"result": 1, "status": "success"}) == {
        "result": 1,
        "status": "success",
    }


async def test_wrapped_reply_is_read_like_a_bare_one(truto: FakeTruto, make: MakeClient) -> None:
    truto.on("/proxy/agents", httpx.Response(200, json={"result": ok_translation("Hallo").json()}))
    assert (await make().translate(REQUEST)).text == "Hallo"


# --- discovery -------------------------------------------------------------------------------


async def test_tools_read_once_per_account_even_under_concurrency(
    truto: FakeTruto, make: MakeClient
) -> None:
    truto.on("/proxy/agents", ok_translation())
    first = make()
    await asyncio.gather(*(first.translate(REQUEST) for _ in range(5)))
    await first.translate(REQUEST)
    assert len(truto.calls("tools")) == 1
    assert len(truto.calls("/proxy/agents")) == 6


async def test_resources_from_settings_skip_discovery(truto: FakeTruto, make: MakeClient) -> None:
    truto.on("/proxy/zai_agents", ok_translation())
    truto.on("/proxy/zai_files/upload", httpx.Response(200, json=FILE))
    client = make(resources={"agents": "zai_agents", "upload": "zai_files/upload"})
    await client.translate(REQUEST)
    await client.upload_file("g.txt", b"x")  # a custom method: POST /proxy/{resource}/{method}
    assert truto.calls("tools") == []


async def test_unknown_resource_override_is_rejected() -> None:
    with pytest.raises(ValueError):
        TrutoGateway(SecretStr(TOKEN), BASE, resources={"translate": "x"})


async def test_a_missing_tool_fails_without_a_proxy_call(
    truto: FakeTruto, make: MakeClient
) -> None:
    truto.tools = [t for t in truto.tools if t["name"] != "create_a_z_ai_agent"]
    with pytest.raises(e.ZaiPermissionDenied, match="create_a_z_ai_agent"):
        await make().translate(REQUEST)
    assert [r.url.path for r in truto.requests] == [f"/integrated-account/{ACCOUNT}/tools"]


async def test_failed_discovery_is_not_cached(truto: FakeTruto, make: MakeClient) -> None:
    truto.on(
        "tools", own(404, "integrated account not found"), httpx.Response(200, json=truto.tools)
    )
    truto.on("/proxy/agents", ok_translation())
    client = make()
    with pytest.raises(e.ZaiBadRequest, match="Truto: integrated account not found"):
        await client.translate(REQUEST)
    assert (await client.translate(REQUEST)).text == "Hallo"
    assert len(truto.calls("tools")) == 2


async def test_files_cannot_be_deleted_unless_a_tool_offers_it(
    truto: FakeTruto, make: MakeClient
) -> None:
    plain = make()
    assert await plain.can_delete_files() is False
    with pytest.raises(e.ZaiPermissionDenied):
        await plain.delete_file("file-1")
    assert not [r for r in truto.requests if r.method == "DELETE"]

    truto.tools = [
        *truto.tools,
        {"name": "delete_a_z_ai_paas_file", "resource": "paas_files", "method": "delete"},
    ]
    deleting = make("ia-2222")
    truto.on(
        "/proxy/paas_files/file-1", httpx.Response(200, json={"id": "file-1", "deleted": True})
    )
    assert await deleting.can_delete_files() is True
    assert await deleting.delete_file("file-1") is True
    (sent,) = truto.calls("/proxy/paas_files/file-1")
    assert sent.method == "DELETE" and sent.url.params["integrated_account_id"] == "ia-2222"


# --- errors and retries ----------------------------------------------------------------------


async def test_remote_401_asks_for_a_reconnect_and_is_not_retried(
    truto: FakeTruto, make: MakeClient
) -> None:
    truto.on("/proxy/agents", remote(401, {"error": {"code": "1002", "message": "expired"}}))
    with pytest.raises(e.UpstreamReconnectRequired) as caught:
        await make().translate(REQUEST)
    err = caught.value
    assert (err.error_code, err.retryable, err.attempts) == (
        "upstream.reconnect_required",
        False,
        1,
    )
    assert "reconnect" in err.message and TOKEN not in str(err)
    assert len(truto.calls("/proxy/agents")) == 1


@pytest.mark.parametrize(
    ("reply", "cls", "code"),
    [
        (own(503, "integrated account is blocked"), e.UpstreamAccountBlocked, None),
        (own(405, "sandbox"), e.ZaiPermissionDenied, None),
        (own(401, "invalid token"), e.ZaiAuthError, None),
        (
            remote(429, {"error": {"code": "1113", "message": "recharge"}}),
            e.ZaiQuotaExceeded,
            "1113",
        ),
        (remote(400, {"code": 1214, "message": "messages illegal"}), e.ZaiBadRequest, "1214"),
        (
            remote(400, '{"error": {"code": "1301", "message": "unsafe"}}'),
            e.ZaiContentFiltered,
            "1301",
        ),
    ],
    ids=["blocked-503", "sandbox-405", "truto-token-401", "remote-1113", "remote-flat", "raw-text"],
)
async def test_fail_fast(
    truto: FakeTruto,
    make: MakeClient,
    reply: httpx.Response,
    cls: type[e.ZaiError],
    code: str | None,
) -> None:
    truto.on("/proxy/agents", reply, ok_translation())
    with pytest.raises(cls) as caught:
        await make().translate(REQUEST)
    assert type(caught.value) is cls and caught.value.code == code
    assert caught.value.retryable is False and caught.value.attempts == 1
    assert len(truto.calls("/proxy/agents")) == 1


@pytest.mark.parametrize(
    "fault",
    [own(502, "bad gateway"), own(504, "gateway timeout"), own(500), httpx.ReadTimeout("slow")],
    ids=["502", "504", "500", "timeout"],
)
async def test_transient_faults_are_retried_with_one_idempotency_key(
    truto: FakeTruto, make: MakeClient, fault: Any
) -> None:
    truto.on("/proxy/agents", fault, ok_translation("Hallo"))
    result = await make().translate(REQUEST)
    assert (result.text, result.attempts) == ("Hallo", 2)
    sent = truto.calls("/proxy/agents")
    assert len(sent) == 2
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert [sent_json(s)["request_id"] for s in sent] == ["R", "R-2"]


async def test_truto_429_waits_for_retry_after_and_pauses_the_account(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    limited = own(429, "Too many requests", **{"Retry-After": "10", "ratelimit-limit": "50"})
    truto.on("/proxy/agents", limited, ok_translation(), ok_translation())
    client = make()
    result = await client.translate(REQUEST)
    assert result.attempts == 2 and fake_time.sleeps[-1] >= 10
    started = fake_time.now
    await client.translate(REQUEST)  # the pause is over: no further wait
    assert fake_time.now == started


async def test_truto_429_without_retry_after_waits_the_documented_10s(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    truto.on("/proxy/agents", own(429), ok_translation())
    await make().translate(REQUEST)
    assert max(fake_time.sleeps) >= 10


async def test_remote_rate_limit_honours_the_forwarded_retry_after(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    limited = remote(
        429, {"error": {"code": "1302", "message": "slow down"}}, **{"Retry-After": "3"}
    )
    truto.on("/proxy/agents", limited, ok_translation())
    result = await make().translate(REQUEST)
    assert result.attempts == 2 and 3 <= fake_time.sleeps[-1] < 10
    # Z.ai's own limit is the account's concurrency, not Truto's window: nothing is paused.
    assert fake_time.sleeps == [fake_time.sleeps[-1]]


# --- budgets ---------------------------------------------------------------------------------


async def test_calls_of_one_account_are_paced_by_its_window(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    truto.on("/proxy/agents", ok_translation())
    client = make(account_limit=3, period=10.0)
    start = fake_time.now
    for _ in range(7):
        await client.translate(REQUEST)
    # 3 at once, 3 a window later, the 7th two windows later (+ the safety margin each time).
    assert fake_time.now - start == pytest.approx(2 * 10.25)


async def test_the_token_window_is_shared_by_accounts(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    truto.on("/proxy/agents", ok_translation())
    first = make("ia-a", account_limit=50, token_limit=6, period=10.0)
    second = make("ia-b", gateway=first_gateway(first))
    start = fake_time.now
    for client in (first, second, first, second):
        await client.translate(REQUEST)
    # Six calls of the token (two tool reads, four proxy calls), far below each account's 50.
    assert fake_time.now == start
    await second.translate(REQUEST)
    assert fake_time.now - start == pytest.approx(10.25)


def first_gateway(client: TrutoZaiClient) -> TrutoGateway:
    return client._truto._gateway  # type: ignore[attr-defined]


def test_account_key_is_stable_and_not_the_id() -> None:
    assert account_key(ACCOUNT) == account_key(ACCOUNT) != account_key("ia-2")
    assert ACCOUNT not in account_key(ACCOUNT) and len(account_key(ACCOUNT)) <= 64


async def test_repr_never_shows_the_token(make: MakeClient) -> None:
    client = make()
    assert TOKEN not in repr(client) and TOKEN not in repr(first_gateway(client))


async def test_async_polls_spend_from_the_same_budget(
    truto: FakeTruto, make: MakeClient, fake_time: FakeTime
) -> None:
    done = ok_translation("Hi", async_id="A1")
    truto.on("/proxy/agents", pending("A1"))
    truto.on("/proxy/agents_async", pending("A1"), pending("A1"), done)
    client = make(account_limit=2, period=10.0)
    start = fake_time.now
    result = await client.translate(REQUEST)
    assert (result.text, result.polls) == ("Hi", 3)
    # submit and poll 1 at t=0 fill the window of 2; poll 2, due at 0.5 s, waits for the window
    # (10.25 s); poll 3 follows its 1 s poll wait.
    assert fake_time.now - start == pytest.approx(10.25 + 1.0)


async def test_an_echoed_token_never_reaches_an_error(truto: FakeTruto, make: MakeClient) -> None:
    truto.on("/proxy/agents", own(400, f"bad request with Bearer {TOKEN}"))
    with pytest.raises(e.ZaiBadRequest) as caught:
        await make().translate(REQUEST)
    assert TOKEN not in str(caught.value) and "[redacted]" in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "retryable", "retry_after"),
    [
        (
            429,
            {"statusCode": 429, "message": "Too many"},
            {"Retry-After": "10"},
            e.ZaiRateLimited,
            True,
            10.0,
        ),
        (429, {"statusCode": 429}, {}, e.ZaiRateLimited, True, 10.0),
        (
            429,
            {"truto_is_remote_error": True, "raw_response": {"error": {"code": "1302"}}},
            {"retry-after": "4"},
            e.ZaiRateLimited,
            True,
            4.0,
        ),
        (
            429,
            {"truto_is_remote_error": True, "raw_response": {"error": {"code": "1113"}}},
            {},
            e.ZaiQuotaExceeded,
            False,
            None,
        ),
        (
            401,
            {"truto_is_remote_error": True, "raw_response": "expired"},
            {},
            e.UpstreamReconnectRequired,
            False,
            None,
        ),
        (401, {"statusCode": 401, "message": "Invalid API token"}, {}, e.ZaiAuthError, False, None),
        (503, {"statusCode": 503}, {}, e.UpstreamAccountBlocked, False, None),
        (
            503,
            {"truto_is_remote_error": True, "raw_response": {}},
            {},
            e.ZaiServerError,
            True,
            None,
        ),
        (502, {"statusCode": 502}, {}, e.ZaiServerError, True, None),
        (504, None, {}, e.ZaiServerError, True, None),
        (405, {"statusCode": 405}, {}, e.ZaiPermissionDenied, False, None),
        (404, {"statusCode": 404}, {}, e.ZaiBadRequest, False, None),
    ],
)
def test_classification_table(
    status: int,
    body: object,
    headers: dict[str, str],
    cls: type[e.ZaiError],
    retryable: bool,
    retry_after: float | None,
) -> None:
    err = classify_truto(status, body, headers, route="agents")
    assert type(err) is cls and err.retryable is retryable and err.retry_after == retry_after
