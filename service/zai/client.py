"""Async httpx client for Z.ai's General Translation agent and the file API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import SecretStr

from service import tracing
from service.auth.credentials import key_fingerprint
from service.pipeline.ports.upstream import UpstreamRequest
from service.zai.errors import (
    ZaiConnectionError,
    ZaiDeadlineExceeded,
    ZaiError,
    ZaiFileNotFound,
    ZaiInvalidRequest,
    ZaiRateLimited,
    ZaiTimeout,
    classify,
    redact,
    refused_file,
)
from service.zai.models import (
    AGENT_ID,
    TOKENIZER_MODEL,
    UPLOAD_EXTENSIONS,
    FileObject,
    PendingTask,
    TranslateRequest,
    Translation,
    agent_body,
    validate,
)
from service.zai.replies import (
    decode_json,
    parse_agent_reply,
    parse_async_result,
    parse_deleted,
    parse_file,
    parse_file_list,
    parse_token_count,
)
from service.zai.retry import RetryPolicy, parse_retry_after
from service.zai.transport import AiohttpTransport

logger = logging.getLogger(__name__)

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


class _BearerAuth(httpx.Auth):
    """Adds the key per request, so it is never part of the client's default headers."""

    def __init__(self, api_key: SecretStr) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth(api_key=SecretStr('**********'))"


_HEADERS = {"Accept": "application/json", "Accept-Language": "en-US,en"}


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
        if self._api_key is not None:  # the key is added per request, as _BearerAuth does
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        request = httpx.Request(
            "POST",
            target,
            headers={**_HEADERS, **headers},
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


class ZaiClient:
    """Z.ai General Translation agent and file API over one pooled ``httpx.AsyncClient``.

    Every call retries per ``retry`` (a RetryPolicy) and raises a ZaiError subclass on failure.
    Use as ``async with ZaiClient(...) as client:`` or call ``aclose()``.
    """

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        agents_base_url: str,
        files_base_url: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_concurrency: int = 32,
        retry: RetryPolicy | None = None,
        async_deadline: float = 300.0,
        poll_initial: float = 0.5,
        poll_max: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        account: str | None = None,
        tokenizer_model: str = TOKENIZER_MODEL,
        on_attempt: AttemptObserver | None = None,
    ) -> None:
        """``api_key=None`` with ``account`` (a stable, non-secret id of the upstream account):
        the ``transport`` authenticates each request itself (the Truto proxy does)."""
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        if self._api_key is None:
            if not account:
                raise ValueError("an api_key, or an account for a transport that authenticates")
            self.key_fingerprint = account
        elif not self._api_key.get_secret_value():
            raise ValueError("api_key must not be empty")
        else:
            self.key_fingerprint = account or key_fingerprint(self._api_key)
        self.agents_base_url = agents_base_url.rstrip("/")
        self.files_base_url = files_base_url.rstrip("/")
        self._max_concurrency = max_concurrency
        self._retry = retry or RetryPolicy()
        self._async_deadline = async_deadline
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._sleep = sleep
        self._clock = clock
        self.tokenizer_model = tokenizer_model
        self._on_attempt = on_attempt
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        self._http = httpx.AsyncClient(
            auth=_BearerAuth(self._api_key) if self._api_key is not None else None,
            headers=_HEADERS,
            timeout=timeout,
            # aiohttp on the wire unless a test passes its own (see service.zai.transport).
            transport=transport or AiohttpTransport(limits),
        )
        self._json = _JsonCalls(self._http, self._api_key, timeout)

    def __repr__(self) -> str:
        return (
            f"ZaiClient(agents_base_url={self.agents_base_url!r}, "
            f"files_base_url={self.files_base_url!r}, api_key=SecretStr('**********'))"
        )

    async def __aenter__(self) -> ZaiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled httpx client (service/bootstrap.py instruments it for traces)."""
        return self._http

    # --- translation -------------------------------------------------------------------------

    async def translate(self, request: UpstreamRequest) -> Translation:
        """Translate, polling to completion if Z.ai answers asynchronously."""
        result = await self.submit(request)
        if isinstance(result, PendingTask):
            done = await self.poll(
                result.async_id,
                agent_id=result.agent_id,
                request_id=result.request_id,
                glossary=request.glossary,
            )
            result = dataclasses.replace(done, attempts=result.attempts)
        self._log_done("agents", result)
        return result

    async def submit(self, request: UpstreamRequest) -> Translation | PendingTask:
        """One agent call (with retries) that does not poll: persist a PendingTask's async_id.
        A `TranslateRequest` may carry Z.ai's extras (its own request_id, a reason_lang)."""
        validate(request)
        own = request.request_id if isinstance(request, TranslateRequest) else None
        rid = own or new_request_id()
        url = f"{self.agents_base_url}/agents"

        async def attempt(n: int, key: str) -> Translation | PendingTask:
            # A fresh body request_id per retry (Z.ai rejects a reused one with 1231); the
            # Idempotency-Key stays: see docs/zai-client.md "Request ids".
            body = agent_body(request, rid if n == 1 else f"{rid}-{n}")
            with _file_refusal(request.glossary):
                reply = await self._exchange("POST", "agents", url, rid, key, json=body)
                return parse_agent_reply(reply, request_id=rid, attempts=n)

        return await self._with_retries("agents", rid, attempt)

    async def poll(
        self,
        async_id: str,
        *,
        deadline: float | None = None,
        agent_id: str = AGENT_ID,
        request_id: str | None = None,
        glossary: str | None = None,
    ) -> Translation:
        """Poll ``async_id`` until success or failure; ``deadline`` = seconds allowed from now;
        ``glossary``: the file id the task was submitted with (a 1214 is then ZaiFileNotFound).

        Waits grow from ``poll_initial`` to ``poll_max``. Raises ZaiDeadlineExceeded (carrying
        ``async_id``) if the task is still pending when the deadline passes.
        """
        rid = request_id or new_request_id()
        ends = self._clock() + (self._async_deadline if deadline is None else deadline)
        wait, polls = self._poll_initial, 0
        while True:
            polls += 1
            result = await self._poll_once(agent_id, async_id, rid, polls, glossary)
            if result is not None:
                return result
            remaining = ends - self._clock()
            self._log("async_result", rid, polls, "pending", logging.DEBUG, remaining=remaining)
            if remaining <= 0:
                err = ZaiDeadlineExceeded(
                    f"async task still pending after {polls} polls",
                    request_id=rid,
                    async_id=async_id,
                )
                self._log("async_result", rid, polls, "deadline", logging.WARNING, error=err)
                raise err
            await self._sleep(min(wait, remaining))
            wait = min(self._poll_max, wait * 2)

    async def _poll_once(
        self, agent_id: str, async_id: str, rid: str, polls: int, glossary: str | None
    ) -> Translation | None:
        """One async-result exchange (transport faults retried); a terminal reply is not."""
        url = f"{self.agents_base_url}/agents/async-result"
        payload = {"agent_id": agent_id, "async_id": async_id}

        async def attempt(n: int, key: str) -> object:
            return await self._exchange("POST", "async_result", url, rid, key, json=payload)

        try:
            with _file_refusal(glossary):
                reply = await self._with_retries("async_result", rid, attempt)
                result = parse_async_result(reply, request_id=rid, attempts=0, polls=polls)
        except ZaiError as err:
            # Re-polling a failed task returns the same failure: surface it; err.retryable
            # tells the caller whether a fresh submit may succeed.
            err.async_id = async_id
            if err.attempts == 0:
                self._annotate(err, rid, polls)
                self._log("async_result", rid, polls, "failed", logging.WARNING, error=err)
            raise
        if result is None:
            return None
        return dataclasses.replace(result, async_id=result.async_id or async_id)

    # --- tokens ------------------------------------------------------------------------------

    async def count_tokens(
        self, text: str, *, retry: bool = True, http_timeout: float | None = None
    ) -> int:
        """Z.ai's count of `text` as one user message (`POST {paas}/tokenizer`, usage out).

        Errors are classified and retried like every other call; `retry=False` (one attempt)
        and `http_timeout` (seconds) override the client's for this call: an estimate is not
        worth a long wait.
        """
        if not text.strip():
            raise ZaiInvalidRequest("text must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/tokenizer"
        extra: dict[str, Any] = {} if http_timeout is None else {"timeout": http_timeout}

        async def attempt(n: int, key: str) -> int:
            # Z.ai's docs make `request_id` unique per request (a reused one is 1231): a fresh
            # one per retry, as for the agent.
            body = {
                "model": self.tokenizer_model,
                "messages": [{"role": "user", "content": text}],
                "request_id": rid if n == 1 else f"{rid}-{n}",
            }
            reply = await self._exchange("POST", "tokenizer", url, rid, key, json=body, **extra)
            return parse_token_count(reply)

        return await self._with_retries(
            "tokenizer", rid, attempt, None if retry else RetryPolicy.none()
        )

    # --- files -------------------------------------------------------------------------------

    async def upload_file(
        self, filename: str, content: bytes, *, purpose: str = "agent"
    ) -> FileObject:
        """Upload a file (e.g. a glossary) as multipart/form-data."""
        if not filename.strip() or not content:
            raise ZaiInvalidRequest("filename and content must not be empty")
        if filename.rsplit(".", 1)[-1].lower() not in UPLOAD_EXTENSIONS:
            raise ZaiInvalidRequest(
                f"Z.ai accepts only {', '.join(sorted(UPLOAD_EXTENSIONS))} files, not {filename!r}"
            )
        rid = new_request_id()
        url = f"{self.files_base_url}/files"
        parts = {"file": (filename, content, "application/octet-stream")}

        async def attempt(n: int, key: str) -> FileObject:
            reply = await self._exchange(
                "POST", "files_upload", url, rid, key, data={"purpose": purpose}, files=parts
            )
            return parse_file(reply)

        return await self._with_retries("files_upload", rid, attempt)

    async def list_files(
        self, *, purpose: str = "agent", limit: int = 100, after: str | None = None
    ) -> tuple[list[FileObject], bool]:
        """One page of files and whether more follow (pass the last id as ``after``)."""
        if not 1 <= limit <= 100:
            raise ZaiInvalidRequest("limit must be within 1..100")
        rid = new_request_id()
        params: dict[str, str | int] = {"purpose": purpose, "limit": limit}
        if after is not None:
            params["after"] = after

        async def attempt(n: int, key: str) -> tuple[list[FileObject], bool]:
            url = f"{self.files_base_url}/files"
            reply = await self._exchange("GET", "files_list", url, rid, key, params=params)
            return parse_file_list(reply)

        return await self._with_retries("files_list", rid, attempt)

    async def can_delete_files(self) -> bool:
        """Whether files can be deleted (and so evicted) through this connection: always
        directly; through a proxy only when it offers the call."""
        return True

    async def delete_file(self, file_id: str) -> bool:
        """Delete a file; False if Z.ai reports it unknown or did not delete it."""
        if not file_id.strip():
            raise ZaiInvalidRequest("file_id must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/files/{file_id}"

        async def attempt(n: int, key: str) -> bool:
            with _file_refusal(file_id):
                return parse_deleted(await self._exchange("DELETE", "files_delete", url, rid, key))

        try:
            return await self._with_retries("files_delete", rid, attempt)
        except ZaiFileNotFound:
            return False

    # --- plumbing ----------------------------------------------------------------------------

    async def _with_retries(
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
                self._annotate(err, rid, n)
                delay = policy.next_delay(err, n)
                outcome = "retry" if delay is not None else "failed"
                level = logging.INFO if delay is not None else logging.WARNING
                self._log(route, rid, n, outcome, level, error=err, delay=delay)
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

    def _annotate(self, err: ZaiError, rid: str, attempts: int) -> None:
        if self._api_key is not None:
            redact(err, self._api_key.get_secret_value())
        err.request_id = err.request_id or rid
        err.attempts = attempts

    async def _exchange(
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

    def _log(
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

    def _log_done(self, route: str, result: Translation) -> None:
        self._log(route, result.request_id, result.attempts, "translated", logging.INFO)


@contextlib.contextmanager
def _file_refusal(file_id: str | None) -> Iterator[None]:
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
