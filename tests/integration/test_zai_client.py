"""ZaiClient over real HTTP against the Z.ai simulator (tests/fixtures/simulator.py)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from service.sim.testing import SimulatorHandle
from service.zai import (
    PendingTask,
    RetryPolicy,
    TranslateRequest,
    Translation,
    ZaiAuthError,
    ZaiBadRequest,
    ZaiClient,
    ZaiConnectionError,
    ZaiContentFiltered,
    ZaiDeadlineExceeded,
    ZaiError,
    ZaiFileNotFound,
    ZaiInferenceFailed,
    ZaiInvalidRequest,
    ZaiMalformedResponse,
    ZaiPermissionDenied,
    ZaiQuotaExceeded,
    ZaiRateLimited,
    ZaiServerError,
    ZaiTimeout,
    ZaiTruncated,
)

API_KEY = "sim-key-id.sim-secret-do-not-log"
REQUEST = TranslateRequest("Hello world", "de", source_lang="en")
GLOSSARY = b"en\tde\nworld\tWelt\n"

MakeClient = Callable[..., ZaiClient]


def _calls(sim: SimulatorHandle, route: str) -> int:
    return int(sim.counters()["calls"][route])


@pytest.fixture
async def make_client(sim: SimulatorHandle) -> AsyncIterator[MakeClient]:
    clients: list[ZaiClient] = []

    def make(**kw: Any) -> ZaiClient:
        options: dict[str, Any] = {
            "agents_base_url": sim.agents_base,
            "files_base_url": sim.files_base,
            "retry": RetryPolicy(max_retries=3, base=0.01, max=0.05, rng=random.Random(5)),
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "poll_initial": 0.02,
            "poll_max": 0.1,
            "async_deadline": 5.0,
        }
        options.update(kw)
        client = ZaiClient(options.pop("api_key", API_KEY), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# --- happy paths --------------------------------------------------------------------------


async def test_sync_translation(sim: SimulatorHandle, make_client: MakeClient) -> None:
    result = await make_client().translate(REQUEST)
    assert isinstance(result, Translation)
    assert result.text == "[de] Hello world"
    assert (result.finish_reason, result.attempts, result.polls) == ("stop", 1, 0)
    assert result.usage.total_tokens > 0
    assert result.task_id
    assert _calls(sim, "agents") == 1
    assert _calls(sim, "async_result") == 0


async def test_request_id_reaches_the_server(sim: SimulatorHandle, make_client: MakeClient) -> None:
    await make_client().translate(TranslateRequest("Hi", "fr", request_id="corr-42"))
    (recorded,) = sim.requests("agents")
    assert "corr-42" in str(recorded)
    assert API_KEY not in str(recorded)


@pytest.mark.parametrize("field", ["message", "messages"])
async def test_async_translation_is_polled(
    sim: SimulatorHandle, make_client: MakeClient, field: str
) -> None:
    sim.configure(mode="async", async_pending_seconds=0.2, async_result_field=field)
    result = await make_client().translate(REQUEST)
    assert result.text == "[de] Hello world"
    assert result.async_id
    assert result.polls >= 2
    counters = sim.counters()
    assert counters["async_submitted"] == 1
    assert counters["calls"]["async_result"] == result.polls


async def test_submit_then_resume_polling(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(mode="async", async_pending_seconds=600)
    client = make_client()
    task = await client.submit(REQUEST)
    assert isinstance(task, PendingTask)
    sim.advance_clock(601)
    result = await client.poll(task.async_id)
    assert (result.text, result.polls, result.async_id) == ("[de] Hello world", 1, task.async_id)


async def test_async_deadline(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(mode="async", async_pending_seconds=600)
    started = time.monotonic()
    with pytest.raises(ZaiDeadlineExceeded) as info:
        await make_client(async_deadline=0.3).translate(REQUEST)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    assert info.value.async_id
    assert info.value.retryable
    assert _calls(sim, "async_result") >= 3


# --- retries ------------------------------------------------------------------------------

RETRIED = ["429_1302", "429_1303", "429_1305", "500", "503", "1234", "malformed_json", "drop"]


@pytest.mark.parametrize("envelope", ["nested", "flat"])
@pytest.mark.parametrize("fault", [*RETRIED, "network_error"])
async def test_transient_fault_retried(
    sim: SimulatorHandle, make_client: MakeClient, fault: str, envelope: str
) -> None:
    sim.configure(error_envelope=envelope)
    sim.script("agents", [fault, "ok"])
    result = await make_client().translate(REQUEST)
    assert result.attempts == 2
    assert result.text == "[de] Hello world"
    assert _calls(sim, "agents") == 2


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("429_1302", ZaiRateLimited),
        ("500", ZaiServerError),
        ("503", ZaiServerError),
        ("1234", ZaiServerError),
        ("malformed_json", ZaiMalformedResponse),
        ("drop", ZaiConnectionError),
        ("network_error", ZaiInferenceFailed),
    ],
)
async def test_retries_exhausted(
    sim: SimulatorHandle, make_client: MakeClient, fault: str, cls: type[ZaiError]
) -> None:
    sim.script("agents", [fault] * 5)
    client = make_client(retry=RetryPolicy(max_retries=2, base=0.01, max=0.02))
    with pytest.raises(cls) as info:
        await client.translate(REQUEST)
    assert info.value.attempts == 3
    assert info.value.retryable
    assert _calls(sim, "agents") == 3


@pytest.mark.parametrize(
    ("fault", "cls", "code"),
    [
        ("429_1113", ZaiQuotaExceeded, "1113"),
        ("429_1304", ZaiQuotaExceeded, "1304"),
        ("429_1308", ZaiQuotaExceeded, "1308"),
        ("400_1210", ZaiBadRequest, "1210"),
        ("400_1214", ZaiBadRequest, "1214"),
        ("400_1301", ZaiContentFiltered, "1301"),
        ("401_1002", ZaiAuthError, "1002"),
        ("sensitive", ZaiContentFiltered, None),
        ("length", ZaiTruncated, None),
    ],
)
@pytest.mark.parametrize("envelope", ["nested", "flat"])
async def test_fail_fast(
    sim: SimulatorHandle,
    make_client: MakeClient,
    fault: str,
    cls: type[ZaiError],
    code: str | None,
    envelope: str,
) -> None:
    sim.configure(error_envelope=envelope)  # flat: {"code": <int>, "message"}, same outcome
    sim.script("agents", [fault, "ok"])
    with pytest.raises(cls) as info:
        await make_client().translate(REQUEST)
    err = info.value
    assert type(err) is cls
    assert (err.code, err.retryable, err.attempts) == (code, False, 1)
    assert err.request_id
    assert _calls(sim, "agents") == 1


async def test_backoff_bounds(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.script("agents", ["429_1302", "429_1302", "ok"])
    client = make_client(retry=RetryPolicy(base=0.1, max=1.0, jitter=0.25))
    started = time.monotonic()
    result = await client.translate(REQUEST)
    elapsed = time.monotonic() - started
    assert result.attempts == 3
    assert 0.075 + 0.15 <= elapsed < 0.1 + 0.2 + 1.0  # two jittered waits, plus HTTP slack


async def test_retry_after_honoured(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.script("agents", ["429_1302_retry_after_1", "ok"])
    started = time.monotonic()
    result = await make_client().translate(REQUEST)
    assert time.monotonic() - started >= 1.0
    assert result.attempts == 2


async def test_read_timeout_retried(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(slow_seconds=2.0)
    sim.script("agents", ["slow", "ok"])
    result = await make_client(read_timeout=0.3).translate(REQUEST)
    assert result.attempts == 2


async def test_read_timeout_error(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(slow_seconds=2.0)
    sim.script("agents", ["slow"])
    client = make_client(read_timeout=0.3, retry=RetryPolicy.none())
    started = time.monotonic()
    with pytest.raises(ZaiTimeout) as info:
        await client.translate(REQUEST)
    assert time.monotonic() - started < 1.5
    assert info.value.retryable


async def test_connection_refused(make_client: MakeClient) -> None:
    client = make_client(
        agents_base_url="http://127.0.0.1:9/api/v1", retry=RetryPolicy(max_retries=1, base=0.01)
    )
    with pytest.raises(ZaiConnectionError) as info:
        await client.translate(REQUEST)
    assert info.value.attempts == 2


# --- async failures -----------------------------------------------------------------------


async def test_async_failed(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(mode="async", async_pending_seconds=0.05)
    sim.script("async_result", ["async_failed"])
    with pytest.raises(ZaiServerError) as info:
        await make_client().translate(REQUEST)
    err = info.value
    assert (err.code, err.retryable) == ("1234", True)
    assert err.async_id
    assert _calls(sim, "async_result") == 1


async def test_async_poll_faults_retried(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(mode="async", async_pending_seconds=0)
    sim.script("async_result", ["503", "drop", "malformed_json", "ok"])
    result = await make_client().translate(REQUEST)
    assert result.text == "[de] Hello world"
    assert _calls(sim, "async_result") == 4


@pytest.mark.parametrize(
    ("fault", "cls"), [("length", ZaiTruncated), ("sensitive", ZaiContentFiltered)]
)
async def test_async_finish_reasons(
    sim: SimulatorHandle, make_client: MakeClient, fault: str, cls: type[ZaiError]
) -> None:
    sim.configure(mode="async", async_pending_seconds=0)
    sim.script("async_result", [fault])
    with pytest.raises(cls):
        await make_client().translate(REQUEST)


async def test_unknown_async_id(sim: SimulatorHandle, make_client: MakeClient) -> None:
    with pytest.raises(ZaiBadRequest) as info:
        await make_client().poll("no-such-task")
    assert info.value.async_id == "no-such-task"


# --- files and glossaries -----------------------------------------------------------------


async def test_glossary_lifecycle(sim: SimulatorHandle, make_client: MakeClient) -> None:
    client = make_client()
    uploaded = await client.upload_file("terms.txt", GLOSSARY)
    assert uploaded.id
    assert (uploaded.filename, uploaded.purpose, uploaded.bytes) == (
        "terms.txt",
        "agent",
        len(GLOSSARY),
    )
    assert uploaded.created_at > 0

    files, more = await client.list_files()
    assert [f.id for f in files] == [uploaded.id]
    assert more is False

    request = TranslateRequest("Hello world", "de", source_lang="en", glossary=uploaded.id)
    assert (await client.translate(request)).text == "[de] Hello Welt"

    assert await client.delete_file(uploaded.id) is True
    assert await client.delete_file(uploaded.id) is False
    with pytest.raises(ZaiFileNotFound) as info:
        await client.translate(request)
    assert info.value.code == "1214"
    counters = sim.counters()
    assert (counters["uploads"], counters["deletes"], counters["files"]) == (1, 1, 0)


async def test_list_pagination(make_client: MakeClient) -> None:
    client = make_client()
    ids = {(await client.upload_file(f"g{i}.txt", GLOSSARY)).id for i in range(3)}
    first, more = await client.list_files(limit=2)
    assert (len(first), more) == (2, True)
    rest, more = await client.list_files(limit=2, after=first[-1].id)
    assert more is False
    assert {f.id for f in first + rest} == ids


async def test_upload_retried(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.script("files_upload", ["429_1302", "500", "ok"])
    await make_client().upload_file("g.txt", GLOSSARY)
    assert _calls(sim, "files_upload") == 3
    assert sim.counters()["uploads"] == 1


async def test_a_434_on_upload_is_permission_denied_and_not_retried(
    sim: SimulatorHandle, make_client: MakeClient
) -> None:
    sim.script("files_upload", ["434", "ok"])
    with pytest.raises(ZaiPermissionDenied) as info:
        await make_client().upload_file("terms.txt", GLOSSARY)
    assert (info.value.status, info.value.error_code, info.value.attempts) == (
        434,
        "zai.permission_denied",
        1,
    )
    assert _calls(sim, "files_upload") == 1


async def test_upload_rejected_extension(make_client: MakeClient) -> None:
    with pytest.raises(ZaiBadRequest):
        await make_client().upload_file("terms.exe", GLOSSARY)


async def test_file_faults(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.script("files_list", ["drop", "ok"])
    sim.script("files_delete", ["401_1002"])
    client = make_client()
    assert await client.list_files() == ([], False)
    with pytest.raises(ZaiAuthError):
        await client.delete_file("file-x")


# --- auth, secrets, validation, concurrency -----------------------------------------------


async def test_auth_failure_never_leaks_the_key(
    sim: SimulatorHandle, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.configure(api_keys=["other-id.other-secret"])
    client = make_client()
    with pytest.raises(ZaiAuthError) as info:
        await client.translate(REQUEST)
    err = info.value
    assert (err.status, err.code, err.retryable) == (401, "1002", False)
    for text in (str(err), repr(err), repr(client), caplog.text):
        assert API_KEY not in text
        assert "sim-secret" not in text
    assert _calls(sim, "agents") == 1


async def test_validation_without_http(sim: SimulatorHandle, make_client: MakeClient) -> None:
    with pytest.raises(ZaiInvalidRequest):
        await make_client().translate(TranslateRequest("Hi", "xx"))
    assert _calls(sim, "agents") == 0


async def test_concurrency_limit_per_key(sim: SimulatorHandle, make_client: MakeClient) -> None:
    sim.configure(latency_ms=100)
    key = f"conc-{random.random()}.secret"
    a, b = make_client(api_key=key, max_concurrency=2), make_client(api_key=key, max_concurrency=2)
    started = time.monotonic()
    await asyncio.gather(*(c.translate(REQUEST) for c in [a, b] * 3))
    assert time.monotonic() - started >= 0.3  # 6 calls, 2 at a time, 100 ms each


async def test_count_tokens_against_the_simulator(sim: SimulatorHandle) -> None:
    async with ZaiClient(
        "k.s", agents_base_url=sim.agents_base, files_base_url=sim.files_base
    ) as client:
        assert await client.count_tokens("Your invoice is ready") == 6  # ceil(21 / 4)
    (sent,) = sim.requests("tokenizer")
    assert sent["body"]["model"] == "glm-4.6"
