"""The aiohttp transport raises the httpx exception the retry policy expects for each failure."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from service.zai.transport import _mapped

REQUEST = httpx.Request("POST", "http://z.ai/api/v1/agents")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("pool or connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("truncated"), httpx.ReadError),
        (aiohttp.ClientOSError(104, "reset by peer"), httpx.ReadError),
        (aiohttp.ClientError("other"), httpx.RemoteProtocolError),
    ],
)
def test_each_aiohttp_failure_maps_to_its_httpx_class(
    error: aiohttp.ClientError, expected: type[Exception]
) -> None:
    mapped = _mapped(error, REQUEST)
    assert type(mapped) is expected
    assert mapped.request is REQUEST


def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("z.ai", 443, True, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
    assert type(_mapped(refused, REQUEST)) is httpx.ConnectError
