"""The API key never shows up in reprs, exception text, tracebacks or logs."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest

from service.zai import errors as e
from service.zai.client import ZaiClient
from service.zai.models import TranslateRequest

from .fakes import API_KEY, Upstream, error, ok_translation
from .test_errors import ALL_ERRORS

MakeClient = Callable[..., ZaiClient]
REQUEST = TranslateRequest("Hello", "de")


def _assert_clean(text: str) -> None:
    assert API_KEY not in text
    assert "s3cr3t" not in text


def _exception_texts(err: BaseException) -> str:
    return "\n".join([str(err), repr(err), *traceback.format_exception(err)])


async def test_client_repr_hides_key(make_client: MakeClient) -> None:
    async with make_client() as client:
        for text in (repr(client), str(client), repr(client._http.auth), repr(vars(client))):
            _assert_clean(text)
        assert "**********" in repr(client)


@pytest.mark.parametrize(
    "reply",
    [
        error(401, "1002", "Authorization Token expired or incorrect"),
        error(401, "1000", f"Authentication failed for key {API_KEY}"),  # server echoing it
        error(401),
        httpx.Response(401, content=f"bad token Bearer {API_KEY}".encode()),
    ],
)
async def test_auth_failure_text_is_clean(
    upstream: Upstream,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    reply: httpx.Response,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.on("POST /agents", reply)
    async with make_client() as client:
        with pytest.raises(e.ZaiAuthError) as info:
            await client.translate(REQUEST)
    _assert_clean(_exception_texts(info.value))
    _assert_clean(caplog.text)
    _assert_clean(repr([r.__dict__ for r in caplog.records]))


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_every_error_type_is_clean_after_redaction(cls: type[e.ZaiError]) -> None:
    err = e.redact(cls(f"echo {API_KEY}", status=401, code="1002", request_id="r"), API_KEY)
    _assert_clean(_exception_texts(err))


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("timed out"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("x")],
)
async def test_transport_failures_are_clean(
    upstream: Upstream, make_client: MakeClient, caplog: pytest.LogCaptureFixture, exc: Exception
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.on("POST /agents", exc)
    async with make_client() as client:
        with pytest.raises(e.ZaiError) as info:
            await client.translate(REQUEST)
    _assert_clean(_exception_texts(info.value))
    _assert_clean(caplog.text)


async def test_success_logs_are_clean(
    upstream: Upstream, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.on("POST /agents", error(429, "1302"), ok_translation())
    async with make_client() as client:
        result = await client.translate(REQUEST)
    _assert_clean(caplog.text)
    _assert_clean(repr(result))
    _assert_clean(repr([r.__dict__ for r in caplog.records]))


async def test_key_not_in_default_headers() -> None:
    async with ZaiClient(API_KEY, agents_base_url="http://x", files_base_url="http://y") as client:
        assert "authorization" not in client._http.headers
        _assert_clean(repr(client._http.headers))
