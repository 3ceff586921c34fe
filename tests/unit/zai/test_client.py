"""ZaiClient over httpx.MockTransport: wire format, retries, polling, files, concurrency."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from service.zai import errors as e
from service.zai.client import ZaiClient
from service.zai.models import PendingTask, TranslateRequest, Translation
from service.zai.retry import RetryPolicy

from .fakes import (
    AGENTS,
    API_KEY,
    FILES,
    FakeTime,
    Upstream,
    error,
    finish,
    ok_translation,
    pending,
)

MakeClient = Callable[..., ZaiClient]
REQUEST = TranslateRequest("Hello", "de", source_lang="en")


# --- wire format --------------------------------------------------------------------------


async def test_sync_translation_and_headers(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", ok_translation("Hallo"))
    async with make_client() as client:
        result = await client.translate(TranslateRequest("Hello", "de", "en", request_id="rid-7"))
    assert isinstance(result, Translation)
    assert (result.text, result.attempts, result.polls, result.request_id) == (
        "Hallo",
        1,
        0,
        "rid-7",
    )
    assert result.usage.total_tokens == 5
    assert result.task_id == "task-1"
    (sent,) = upstream.calls("POST /agents")
    assert str(sent.url) == f"{AGENTS}/agents"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Accept-Language"] == "en-US,en"
    assert sent.headers["X-Request-Id"] == "rid-7"
    assert sent.headers["Content-Type"] == "application/json"
    body = upstream.json("POST /agents")[0]
    assert body["request_id"] == "rid-7"
    assert body["agent_id"] == "general_translation"
    assert body["custom_variables"]["source_lang"] == "en"


async def test_generated_request_id(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", ok_translation())
    async with make_client() as client:
        result = await client.translate(REQUEST)
    assert len(result.request_id) == 32
    assert upstream.calls("POST /agents")[0].headers["X-Request-Id"] == result.request_id


async def test_validation_makes_no_http_call(upstream: Upstream, make_client: MakeClient) -> None:
    async with make_client() as client:
        with pytest.raises(e.ZaiInvalidRequest):
            await client.translate(TranslateRequest("Hello", "klingon"))
        with pytest.raises(e.ZaiInvalidRequest):
            await client.submit(TranslateRequest("Hello", "de", strategy="magic"))
    assert upstream.requests == []


# --- retries ------------------------------------------------------------------------------


async def test_rate_limit_retried_with_backoff(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents", error(429, "1302"), error(429, "1303"), ok_translation())
    async with make_client() as client:
        result = await client.translate(REQUEST)
    assert result.attempts == 3
    assert len(upstream.calls("POST /agents")) == 3
    assert len(fake_time.sleeps) == 2
    assert 0.075 <= fake_time.sleeps[0] <= 0.1  # base 0.1, jitter 25 %
    assert 0.15 <= fake_time.sleeps[1] <= 0.2


async def test_retry_uses_fresh_body_request_id(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", error(503), error(500, "1234"), ok_translation())
    async with make_client() as client:
        result = await client.translate(TranslateRequest("Hi", "de", request_id="R"))
    bodies = upstream.json("POST /agents")
    assert [b["request_id"] for b in bodies] == ["R", "R-2", "R-3"]
    assert {r.headers["X-Request-Id"] for r in upstream.calls("POST /agents")} == {"R"}
    assert result.request_id == "R"


async def test_one_idempotency_key_per_logical_call_kept_across_retries(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", error(503), error(500, "1234"), ok_translation(), ok_translation())
    upstream.on("POST /files", error(429, "1302"), httpx.Response(200, json=FILE))
    async with make_client() as client:
        await client.translate(TranslateRequest("Hi", "de", request_id="R"))
        await client.translate(TranslateRequest("Hi", "de", request_id="R"))
        await client.upload_file("g.txt", b"x")
    keys = [r.headers["Idempotency-Key"] for r in upstream.calls("POST /agents")]
    assert keys[0] == keys[1] == keys[2] != keys[3]  # three attempts of one call, then another
    uploads = {r.headers["Idempotency-Key"] for r in upstream.calls("POST /files")}
    assert len(uploads) == 1 and not uploads & set(keys)


async def test_each_poll_is_its_own_logical_call(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", pending("A1"))
    upstream.on("POST /agents/async-result", pending("A1"), error(502), _async_ok())
    async with make_client() as client:
        await client.translate(REQUEST)
    keys = [r.headers["Idempotency-Key"] for r in upstream.calls("POST /agents/async-result")]
    # poll 1 answers pending; poll 2 fails once (502) and its retry reuses its key.
    assert keys[0] != keys[1] == keys[2]


async def test_retries_exhausted(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", error(429, "1305"))
    async with make_client(retry=RetryPolicy(max_retries=2, base=0.01)) as client:
        with pytest.raises(e.ZaiRateLimited) as info:
            await client.translate(REQUEST)
    assert len(upstream.calls("POST /agents")) == 3
    err = info.value
    assert (err.attempts, err.status, err.code, err.retryable) == (3, 429, "1305", True)
    assert err.request_id


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (error(429, "1113"), e.ZaiQuotaExceeded),
        (error(429, "1304"), e.ZaiQuotaExceeded),
        (error(429, "1308"), e.ZaiQuotaExceeded),
        (error(429), e.ZaiRateLimited),
        (error(400, "1210"), e.ZaiBadRequest),
        (error(400, "1301"), e.ZaiContentFiltered),
        (error(400, "1261"), e.ZaiPromptTooLong),
        (error(401, "1002"), e.ZaiAuthError),
        (error(500, "1113"), e.ZaiQuotaExceeded),
        (error(400, "1214", "glossary file-x not found"), e.ZaiBadRequest),  # no file sent
        (finish("sensitive"), e.ZaiContentFiltered),
        (finish("length"), e.ZaiTruncated),
    ],
)
async def test_fail_fast(
    upstream: Upstream, make_client: MakeClient, reply: httpx.Response, cls: type[e.ZaiError]
) -> None:
    upstream.on("POST /agents", reply, ok_translation())
    async with make_client() as client:
        with pytest.raises(cls) as info:
            await client.translate(REQUEST)
    assert len(upstream.calls("POST /agents")) == 1
    assert info.value.attempts == 1
    assert info.value.retryable is False


@pytest.mark.parametrize(
    "reply",
    [
        error(500),
        error(502),
        error(503, "503"),
        error(500, "1234"),
        error(429, "1302"),
        error(429, "1120"),
        httpx.Response(200, content=b'{"choices": [tru'),
        httpx.Response(200, content=b"<html>gateway</html>"),
        finish("network_error"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
async def test_transient_faults_are_retried(
    upstream: Upstream, make_client: MakeClient, reply: Any
) -> None:
    upstream.on("POST /agents", reply, ok_translation())
    async with make_client() as client:
        result = await client.translate(REQUEST)
    assert result.attempts == 2


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ReadTimeout("t"), e.ZaiTimeout),
        (httpx.ConnectTimeout("t"), e.ZaiTimeout),
        (httpx.ConnectError("c"), e.ZaiConnectionError),
        (httpx.RemoteProtocolError("dropped"), e.ZaiConnectionError),
    ],
)
async def test_transport_errors_are_mapped_and_chained(
    upstream: Upstream, make_client: MakeClient, exc: Exception, cls: type[e.ZaiError]
) -> None:
    upstream.on("POST /agents", exc)
    async with make_client(retry=RetryPolicy.none()) as client:
        with pytest.raises(cls) as info:
            await client.translate(REQUEST)
    assert info.value.__cause__ is exc
    assert info.value.retryable is True
    assert info.value.status is None


async def test_1230_retried_only_once(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", error(500, "1230"))
    async with make_client() as client:
        with pytest.raises(e.ZaiServerError):
            await client.translate(REQUEST)
    assert len(upstream.calls("POST /agents")) == 2


async def test_retry_after_honoured(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents", error(429, "1302", **{"Retry-After": "2"}), ok_translation())
    async with make_client() as client:
        await client.translate(REQUEST)
    assert fake_time.sleeps == [2.0]


async def test_retry_after_beyond_cap_goes_to_caller(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", error(429, "1302", **{"Retry-After": "3600"}))
    async with make_client() as client:
        with pytest.raises(e.ZaiRateLimited) as info:
            await client.translate(REQUEST)
    assert info.value.retry_after == 3600.0
    assert len(upstream.calls("POST /agents")) == 1


async def test_upstream_request_id_from_body_or_header(
    upstream: Upstream, make_client: MakeClient
) -> None:
    body = {"error": {"code": "1210", "message": "bad"}, "request_id": "up-1"}
    upstream.on("POST /agents", httpx.Response(400, json=body))
    upstream.on("GET /files", httpx.Response(400, json={}, headers={"x-log-id": "log-9"}))
    async with make_client() as client:
        with pytest.raises(e.ZaiBadRequest) as first:
            await client.translate(REQUEST)
        with pytest.raises(e.ZaiBadRequest) as second:
            await client.list_files()
    assert first.value.upstream_request_id == "up-1"
    assert second.value.upstream_request_id == "log-9"


# --- async replies ------------------------------------------------------------------------


def _async_ok(text: str = "Hallo") -> httpx.Response:
    reply = ok_translation(text, async_id="A1")
    return reply


async def test_async_reply_polled_to_success(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents", pending("A1"))
    upstream.on("POST /agents/async-result", pending("A1"), pending("A1"), _async_ok())
    async with make_client() as client:
        result = await client.translate(TranslateRequest("Hi", "de", request_id="R"))
    assert (result.text, result.async_id, result.polls, result.attempts) == ("Hallo", "A1", 3, 1)
    assert result.request_id == "R"
    assert fake_time.sleeps == [0.5, 1.0]
    polls = upstream.json("POST /agents/async-result")
    assert polls == [{"agent_id": "general_translation", "async_id": "A1"}] * 3
    assert upstream.calls("POST /agents/async-result")[0].headers["X-Request-Id"] == "R"


async def test_poll_backoff_capped(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents", pending())
    upstream.on("POST /agents/async-result", *[pending()] * 5, _async_ok())
    async with make_client(async_deadline=100.0) as client:
        await client.translate(REQUEST)
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]


async def test_submit_returns_pending_then_poll_resumes(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", pending("A9"))
    upstream.on("POST /agents/async-result", _async_ok("done"))
    async with make_client() as client:
        task = await client.submit(REQUEST)
        assert isinstance(task, PendingTask)
        assert task.async_id == "A9"
        result = await client.poll(task.async_id)
    assert (result.text, result.polls, result.attempts) == ("done", 1, 0)


async def test_submit_returns_sync_translation(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", ok_translation())
    async with make_client() as client:
        assert isinstance(await client.submit(REQUEST), Translation)
    assert upstream.calls("POST /agents/async-result") == []


async def test_deadline_exceeded(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents", pending("A1"))
    upstream.on("POST /agents/async-result", pending("A1"))
    async with make_client(async_deadline=4.0) as client:
        with pytest.raises(e.ZaiDeadlineExceeded) as info:
            await client.translate(REQUEST)
    err = info.value
    assert err.async_id == "A1"
    assert err.retryable is True
    assert sum(fake_time.sleeps) == pytest.approx(4.0)
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 0.5]  # the last wait is clipped to the deadline
    assert len(upstream.calls("POST /agents/async-result")) == 5


async def test_poll_deadline_argument_overrides_default(
    upstream: Upstream, make_client: MakeClient, fake_time: FakeTime
) -> None:
    upstream.on("POST /agents/async-result", pending())
    async with make_client(async_deadline=100.0) as client:
        with pytest.raises(e.ZaiDeadlineExceeded):
            await client.poll("A1", deadline=1.0)
    assert sum(fake_time.sleeps) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("failure", "cls", "retryable"),
    [
        ({"error": {"code": "1234", "message": "Network error"}}, e.ZaiServerError, True),
        ({"error": {"code": "1301", "message": "unsafe"}}, e.ZaiContentFiltered, False),
        ({}, e.ZaiServerError, False),
    ],
)
async def test_async_failed_is_classified_and_not_repolled(
    upstream: Upstream,
    make_client: MakeClient,
    failure: dict[str, Any],
    cls: type[e.ZaiError],
    retryable: bool,
) -> None:
    upstream.on("POST /agents", pending("A1"))
    failed = {"status": "failed", "agent_id": "general_translation", "async_id": "A1", **failure}
    upstream.on("POST /agents/async-result", pending("A1"), httpx.Response(200, json=failed))
    async with make_client() as client:
        with pytest.raises(cls) as info:
            await client.translate(TranslateRequest("Hi", "de", request_id="R"))
    assert info.value.async_id == "A1"
    assert info.value.retryable is retryable
    assert info.value.request_id == "R"
    assert len(upstream.calls("POST /agents/async-result")) == 2


@pytest.mark.parametrize("message", ["glossary file-x not found", "Parameter error", ""])
async def test_a_1214_on_a_request_with_a_glossary_is_file_not_found_whatever_the_message(
    upstream: Upstream, make_client: MakeClient, message: str
) -> None:
    upstream.on("POST /agents", error(400, "1214", message), ok_translation())
    async with make_client() as client:
        with pytest.raises(e.ZaiFileNotFound) as info:
            await client.translate(TranslateRequest("Hi", "de", glossary="file-x"))
    assert (info.value.code, info.value.status, info.value.attempts) == ("1214", 400, 1)
    assert len(upstream.calls("POST /agents")) == 1  # not retried: the caller re-uploads


async def test_a_failed_task_that_carried_a_glossary_is_file_not_found_on_1214(
    upstream: Upstream, make_client: MakeClient
) -> None:
    failed = {"status": "failed", "async_id": "A1", "error": {"code": "1214", "message": "?"}}
    for glossary, cls in [("file-x", e.ZaiFileNotFound), (None, e.ZaiBadRequest)]:
        upstream.on("POST /agents", pending("A1"))
        upstream.on("POST /agents/async-result", httpx.Response(200, json=failed))
        async with make_client() as client:
            with pytest.raises(e.ZaiError) as info:
                await client.translate(TranslateRequest("Hi", "de", glossary=glossary))
        assert type(info.value) is cls and info.value.async_id == "A1"


async def test_async_finish_reason_errors(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /agents", pending("A1"))
    upstream.on("POST /agents/async-result", finish("network_error"))
    async with make_client() as client:
        with pytest.raises(e.ZaiInferenceFailed) as info:
            await client.translate(REQUEST)
    assert info.value.retryable is True
    assert len(upstream.calls("POST /agents/async-result")) == 1


async def test_transient_poll_errors_are_retried(
    upstream: Upstream, make_client: MakeClient
) -> None:
    upstream.on("POST /agents", pending("A1"))
    upstream.on(
        "POST /agents/async-result",
        error(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, content=b"{oops"),
        _async_ok(),
    )
    async with make_client() as client:
        result = await client.translate(REQUEST)
    assert result.polls == 1
    assert len(upstream.calls("POST /agents/async-result")) == 4


# --- files --------------------------------------------------------------------------------

FILE = {
    "id": "file-1",
    "object": "file",
    "bytes": 5,
    "filename": "g.txt",
    "purpose": "agent",
    "created_at": 1740830400,
}


async def test_upload_file_multipart(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /files", httpx.Response(200, json=FILE))
    async with make_client() as client:
        f = await client.upload_file("g.txt", b"a\tb\n")
    assert (f.id, f.bytes, f.filename, f.purpose, f.created_at) == (
        "file-1",
        5,
        "g.txt",
        "agent",
        1740830400,
    )
    (sent,) = upstream.calls("POST /files")
    assert str(sent.url) == f"{FILES}/files"
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="purpose"\r\n\r\nagent' in sent.content
    assert b'name="file"; filename="g.txt"' in sent.content
    assert b"Content-Type: application/octet-stream" in sent.content
    assert b"a\tb\n" in sent.content
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_upload_retries_rate_limit(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("POST /files", error(429, "1302"), httpx.Response(200, json=FILE))
    async with make_client() as client:
        await client.upload_file("g.txt", b"x")
    assert len(upstream.calls("POST /files")) == 2


async def test_upload_rejects_empty_without_http(
    upstream: Upstream, make_client: MakeClient
) -> None:
    async with make_client() as client:
        with pytest.raises(e.ZaiInvalidRequest):
            await client.upload_file("g.txt", b"")
        with pytest.raises(e.ZaiInvalidRequest):
            await client.upload_file(" ", b"x")
        for undocumented in ("g.tsv", "g.csv", "g.docx", "g"):  # Z.ai lists 7 formats only
            with pytest.raises(e.ZaiInvalidRequest, match="pdf, png, ppt, txt, xlsx"):
                await client.upload_file(undocumented, b"x")
        with pytest.raises(e.ZaiInvalidRequest):
            await client.list_files(limit=0)
        with pytest.raises(e.ZaiInvalidRequest):
            await client.delete_file("")
    assert upstream.requests == []


async def test_list_files(upstream: Upstream, make_client: MakeClient) -> None:
    page = {"object": "list", "has_more": True, "data": [FILE]}
    upstream.on("GET /files", httpx.Response(200, json=page))
    async with make_client() as client:
        files, more = await client.list_files(limit=1, after="file-0")
        await client.list_files()
    assert [f.id for f in files] == ["file-1"]
    assert more is True
    first, second = upstream.calls("GET /files")
    assert dict(first.url.params) == {"purpose": "agent", "limit": "1", "after": "file-0"}
    assert dict(second.url.params) == {"purpose": "agent", "limit": "100"}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (httpx.Response(200, json={"id": "file-1", "object": "file", "deleted": True}), True),
        (httpx.Response(200, json={"id": "file-1", "deleted": False}), False),
        (error(404), False),
        (error(400, "1214", "file id unknown"), False),
    ],
)
async def test_delete_file(
    upstream: Upstream, make_client: MakeClient, reply: httpx.Response, expected: bool
) -> None:
    upstream.on("DELETE /files/{id}", reply)
    async with make_client() as client:
        assert await client.delete_file("file-1") is expected
    assert str(upstream.requests[0].url) == f"{FILES}/files/file-1"


async def test_delete_other_errors_raise(upstream: Upstream, make_client: MakeClient) -> None:
    upstream.on("DELETE /files/{id}", error(401, "1002"))
    async with make_client() as client:
        with pytest.raises(e.ZaiAuthError):
            await client.delete_file("file-1")


# --- concurrency and pooling --------------------------------------------------------------


class _Gate:
    """Counts requests in flight across clients."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return ok_translation()


def _gated(gate: _Gate, key: str, limit: int) -> ZaiClient:
    return ZaiClient(
        key,
        agents_base_url=AGENTS,
        files_base_url=FILES,
        max_concurrency=limit,
        transport=httpx.MockTransport(gate.handler),
    )


async def test_concurrency_limit_shared_by_clients_of_one_key() -> None:
    gate = _Gate()
    key = f"shared.{random.random()}"
    a, b = _gated(gate, key, 2), _gated(gate, key, 2)
    async with a, b:
        await asyncio.gather(*(c.translate(REQUEST) for c in [a, b] * 5))
    assert gate.peak == 2


async def test_concurrency_limit_is_per_key() -> None:
    gate = _Gate()
    a = _gated(gate, f"one.{random.random()}", 1)
    b = _gated(gate, f"two.{random.random()}", 1)
    async with a, b:
        await asyncio.gather(*(c.translate(REQUEST) for c in [a, b] * 3))
    assert gate.peak == 2


async def test_key_fingerprint_stable_and_not_the_key(make_client: MakeClient) -> None:
    a, b = make_client(), make_client(api_key=SecretStr(API_KEY))
    assert a.key_fingerprint == b.key_fingerprint
    assert API_KEY not in a.key_fingerprint
    assert make_client(api_key="other.key").key_fingerprint != a.key_fingerprint
    await a.aclose()
    await b.aclose()


def test_empty_key_rejected() -> None:
    with pytest.raises(ValueError):
        ZaiClient("", agents_base_url=AGENTS, files_base_url=FILES)


async def test_context_manager_closes_pool(make_client: MakeClient) -> None:
    async with make_client() as client:
        pass
    assert client._http.is_closed


# --- logging ------------------------------------------------------------------------------


async def test_structured_logs(
    upstream: Upstream, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service.zai")
    upstream.on("POST /agents", error(429, "1302"), ok_translation())
    async with make_client() as client:
        await client.translate(TranslateRequest("Hi", "de", request_id="R"))
    records = [r for r in caplog.records if r.name == "service.zai.client"]
    outcomes = [
        (r.__dict__["route"], r.__dict__["attempt"], r.__dict__["outcome"]) for r in records
    ]
    assert outcomes == [("agents", 1, "retry"), ("agents", 2, "translated")]
    retry = records[0]
    assert retry.__dict__["request_id"] == "R"
    assert retry.__dict__["code"] == "1302"
    assert retry.__dict__["error_code"] == "zai.rate_limited"
    assert retry.__dict__["delay"] > 0
