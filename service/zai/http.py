"""One HTTP exchange with Z.ai and its retries: classification of failures, the per-key
concurrency limit, spans, logs and the attempts metric. `ZaiClient` (client.py) builds each
route's calls on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import SecretStr

from service import tracing
from service.zai.errors import (
    ZaiConnectionError,
    ZaiError,
    ZaiRateLimited,
    ZaiTimeout,
    classify,
    redact,
    refused_file,
)
from service.zai.models import Translation
from service.zai.replies import decode_json
from service.zai.retry import RetryPolicy, parse_retry_after

# The client's own logger: its records say "service.zai.client", as they did before the split.
logger = logging.getLogger("service.zai.client")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# Told (route, status) after every HTTP exchange: status is ok, 429, 4xx, 5xx, timeout,
# connection or other (`attempt_status`), a bounded set fit for a metric label.
AttemptObserver = Callable[[str, str], None]

# One semaphore per API key and event loop, shared by every ZaiClient of that key in the
# process, because Z.ai enforces concurrency per account (codes 1302/1303). asyncio primitives
# bind to one loop, hence the per-loop map. The first client to use a key sets its limit.
_KEY_SEMAPHORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]]
_KEY_SEMAPHORES = weakref.WeakKeyDictionary()


def new_request_id() -> str:
    """32 random hex digits, as `uuid4().hex` (unique, not secret): without its system call
    per id, a hot spot at two ids per agent call."""
    return f"{_ids.getrandbits(128):032x}"


_ids = random.Random()  # seeded from the OS once


def _key_semaphore(fingerprint: str, limit: int) -> asyncio.Semaphore:
    per_loop = _KEY_SEMAPHORES.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(fingerprint, asyncio.Semaphore(limit))


class BearerAuth(httpx.Auth):
    """Adds the key per request, so it is never part of the client's default headers."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(api_key=SecretStr('**********'))"


HEADERS = {"Accept": "application/json", "Accept-Language": "en-US,en"}


class _JsonCalls:
    """JSON POSTs (agent calls, polls, token counts: all but the file API) handed straight to
    the client's transport as `httpx.Request`s: what `AsyncClient.request` adds on the way
    (cookies, the auth flow, redirects, event hooks) is nothing these calls use, and it cost
    about a third of each call's CPU (docs/benchmarks.md, "overhead"). The transport is the
    client's own, so `httpx.MockTransport` in tests and the trace instrumentation, which wraps
    it, see every request as before."""

    def __init__(
        self, http: httpx.AsyncClient, api_key: SecretStr | None, timeout: httpx.Timeout
    ) -> None:
        self._http, self._api_key = http, api_key
        self._timeout = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return "_JsonCalls(api_key=SecretStr('**********'))"

    async def post(
        self, url: str, headers: dict[str, str], content: bytes, seconds: float | None
    ) -> httpx.Response:
        target = self._urls.get(url) or self._urls.setdefault(url, httpx.URL(url))
        if self._api_key is not None:  # the key is added per request, as BearerAuth does
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        request = httpx.Request(
            "POST",
            target,
            headers={**HEADERS, **headers},
            content=content,
            extensions={"timeout": self._timeout if seconds is None else _all(seconds)},
        )
        transport = self._http._transport
        if tracing.enabled() and not tracing.recording(tracing.current()):
            # An unrecorded call skips the HTTP instrumentation too, which wraps the
            # transport's method on the instance (its span would not be recorded either).
            response = await type(transport).handle_async_request(transport, request)
        else:
            response = await transport.handle_async_request(request)
        await response.aread()
        return response


def _all(seconds: float) -> dict[str, float]:
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


class Exchanges:
    """The HTTP side of one ZaiClient: its pooled client, key, retry policy and observers."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: SecretStr | None,
        timeout: httpx.Timeout,
        *,
        fingerprint: str,
        max_concurrency: int,
        retry: RetryPolicy,
        sleep: Sleep,
        on_attempt: AttemptObserver | None,
    ) -> None:
        self._http, self._api_key = http, api_key
        self._json = _JsonCalls(http, api_key, timeout)
        self.key_fingerprint, self._max_concurrency = fingerprint, max_concurrency
        self._retry, self._sleep, self._on_attempt = retry, sleep, on_attempt

    def __repr__(self) -> str:
        return "Exchanges(api_key=SecretStr('**********'))"

    async def with_retries(
        self,
        route: str,
        rid: str,
        attempt: Callable[[int, str], Awaitable[T]],
        policy: RetryPolicy | None = None,
    ) -> T:
        """Run ``attempt(n, key)`` until it succeeds or the policy gives up; a small loop on
        purpose (see service.zai.retry for why not tenacity). ``key`` is the Idempotency-Key of
        this logical call: the same for each of its retries, a new one for the next call."""
        n, key, policy = 0, new_request_id(), policy or self._retry
        while True:
            n += 1
            try:
                return await self._traced(route, rid, n, attempt(n, key))
            except ZaiError as err:
                self.annotate(err, rid, n)
                delay = policy.next_delay(err, n)
                outcome = "retry" if delay is not None else "failed"
                level = logging.INFO if delay is not None else logging.WARNING
                self.log(route, rid, n, outcome, level, error=err, delay=delay)
                if delay is None:
                    raise
                await self._sleep(delay)

    async def _traced(self, route: str, rid: str, n: int, call: Awaitable[T]) -> T:
        """One attempt: its span (route, attempt, HTTP status, Z.ai code; never a text or a
        key) and its count for the metrics."""

        def attributes() -> dict[str, str | int]:
            return {"zai.route": route, "zai.attempt": n, "zai.request_id": rid}

        with tracing.span(f"zai {route}", kind=tracing.SpanKind.CLIENT, attributes=attributes):
            try:
                result = await call
            except ZaiError as err:
                tracing.annotate(
                    {
                        "http.response.status_code": err.status,
                        "zai.code": err.code,
                        "zai.retryable": err.retryable,
                    }
                )
                self._observe(route, attempt_status(err))
                raise
            self._observe(route, "ok")
            return result

    def _observe(self, route: str, status: str) -> None:
        if self._on_attempt is not None:
            self._on_attempt(route, status)

    def annotate(self, err: ZaiError, rid: str, attempts: int) -> None:
        if self._api_key is not None:
            redact(err, self._api_key.get_secret_value())
        err.request_id = err.request_id or rid
        err.attempts = attempts

    async def exchange(
        self, method: str, route: str, url: str, rid: str, key: str, **kw: Any
    ) -> object:
        """One HTTP request: the parsed JSON of a 2xx, else a classified ZaiError."""
        headers = {"X-Request-Id": rid}
        if method != "GET":
            headers["Idempotency-Key"] = key
        if "json" in kw:  # orjson: httpx's own encoding (json.dumps) costs more per call
            kw["content"] = orjson.dumps(kw.pop("json"))
            headers["Content-Type"] = "application/json"
        async with _key_semaphore(self.key_fingerprint, self._max_concurrency):
            try:
                if method == "POST" and "content" in kw and set(kw) <= {"content", "timeout"}:
                    response = await self._json.post(url, headers, kw["content"], kw.get("timeout"))
                else:
                    response = await self._http.request(method, url, headers=headers, **kw)
            except httpx.TimeoutException as exc:
                raise ZaiTimeout(f"{type(exc).__name__} on {route}: {exc}") from exc
            except httpx.TransportError as exc:
                raise ZaiConnectionError(f"{type(exc).__name__} on {route}: {exc}") from exc
        tracing.annotate(lambda: {"http.response.status_code": response.status_code})
        if response.is_success:
            return decode_json(response.content)
        raise self._http_error(response, route)

    @staticmethod
    def _http_error(response: httpx.Response, route: str) -> ZaiError:
        try:
            body: object = response.json()
        except ValueError:
            body = None
        err = classify(response.status_code, body, route=route)
        err.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        err.upstream_request_id = err.upstream_request_id or response.headers.get("x-log-id")
        return err

    def log(
        self,
        route: str,
        rid: str,
        attempt: int,
        outcome: str,
        level: int,
        *,
        error: ZaiError | None = None,
        delay: float | None = None,
        remaining: float | None = None,
    ) -> None:
        extra: dict[str, object] = {
            "request_id": rid,
            "route": route,
            "attempt": attempt,
            "outcome": outcome,
        }
        if error is not None:
            extra |= {"status": error.status, "code": error.code, "error_code": error.error_code}
        if delay is not None:
            extra["delay"] = round(delay, 3)
        if remaining is not None:
            extra["remaining"] = round(remaining, 3)
        logger.log(level, "zai %s %s", route, outcome, extra=extra)

    def log_done(self, route: str, result: Translation) -> None:
        self.log(route, result.request_id, result.attempts, "translated", logging.INFO)


@contextlib.contextmanager
def file_refusal(file_id: str | None) -> Iterator[None]:
    """Within: a 1214 refusal of a request that carried `file_id` is a ZaiFileNotFound,
    whatever its message (`service.zai.errors.refused_file`)."""
    try:
        yield
    except ZaiError as err:
        found = refused_file(err, file_id)
        if found is err:
            raise
        raise found from err


def attempt_status(err: ZaiError) -> str:
    """The status class of a failed exchange, for the attempts metric (bounded values)."""
    if isinstance(err, ZaiTimeout):
        return "timeout"
    if isinstance(err, ZaiConnectionError):
        return "connection"
    if err.status == 429 or isinstance(err, ZaiRateLimited):
        return "429"
    if err.status is not None and 400 <= err.status < 600:
        return f"{err.status // 100}xx"
    return "other"
