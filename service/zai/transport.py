"""The Z.ai client's wire: an httpx transport that sends through aiohttp.

Why: httpx's own transport (httpcore over anyio) cost 1.7 ms of CPU per request one at a time
and 5 to 6 ms at 64 concurrent requests on the 2-core dev VM, more than everything else a
translation job does; its connection pool walks every connection, polling each idle socket, on
every request (encode/httpcore#1035). Through aiohttp's connector and C parser the same
exchange costs under 1 ms (docs/benchmarks.md). The client keeps httpx's API: auth, timeouts,
`httpx.MockTransport` in tests, and its exception classes, which the retry policy reads.

Why not the `httpx-aiohttp` package: it maps a dropped connection to a connect *timeout* and
lets other aiohttp errors through unmapped, and the client must classify them exactly (a
dropped connection is `ZaiConnectionError`, a slow reply `ZaiTimeout`). What remains is short.
"""

from __future__ import annotations

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Bodies are read whole (Z.ai replies are small JSON); httpx decodes them as usual."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limit = limits.max_connections or 0  # 0: aiohttp's "no limit"
        self._keepalive = limits.keepalive_expiry or 5.0
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # httpx's CA bundle and SSL_CERT_FILE handling, so trust does not change.
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=self._keepalive, ssl=httpx.create_ssl_context()
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.get("pool"),  # aiohttp's connect includes waiting for a free slot
            sock_connect=timeout.get("connect"),
            sock_read=timeout.get("read"),
        )
        body = await request.aread()
        # As str pairs: handing httpx's Headers over decodes each of them, per access.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw}
        try:
            async with self._client().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=limits,
            ) as reply:
                content = await reply.read()
        except aiohttp.ClientError as exc:
            raise _mapped(exc, request) from exc
        except TimeoutError as exc:  # a timeout aiohttp did not wrap
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        reason = (reply.reason or "").encode()
        return httpx.Response(
            reply.status,
            headers=reply.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _mapped(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpcore would have raised for the same failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return httpx.ReadError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)
