"""Async httpx client for Z.ai's General Translation agent and the file API."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import SecretStr

from service.zai.errors import (
    ZaiConnectionError,
    ZaiDeadlineExceeded,
    ZaiError,
    ZaiFileNotFound,
    ZaiInvalidRequest,
    ZaiTimeout,
    classify,
    redact,
)
from service.zai.models import (
    AGENT_ID,
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
)
from service.zai.retry import RetryPolicy, parse_retry_after
from service.zai.transport import AiohttpTransport

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

# One semaphore per API key and event loop, shared by every ZaiClient of that key in the
# process, because Z.ai enforces concurrency per account (codes 1302/1303). asyncio primitives
# bind to one loop, hence the per-loop map. The first client to use a key sets its limit.
_KEY_SEMAPHORES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]]
_KEY_SEMAPHORES = weakref.WeakKeyDictionary()


def key_fingerprint(api_key: SecretStr) -> str:
    """A short, non-reversible id of an API key, safe to use as a map key or metric label."""
    return hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()[:16]


def new_request_id() -> str:
    return uuid.uuid4().hex


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


class ZaiClient:
    """Z.ai General Translation agent and file API over one pooled ``httpx.AsyncClient``.

    Every call retries per ``retry`` (a RetryPolicy) and raises a ZaiError subclass on failure.
    Use as ``async with ZaiClient(...) as client:`` or call ``aclose()``.
    """

    def __init__(
        self,
        api_key: str | SecretStr,
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
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("api_key must not be empty")
        self.agents_base_url = agents_base_url.rstrip("/")
        self.files_base_url = files_base_url.rstrip("/")
        self.key_fingerprint = key_fingerprint(self._api_key)
        self._max_concurrency = max_concurrency
        self._retry = retry or RetryPolicy()
        self._async_deadline = async_deadline
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._sleep = sleep
        self._clock = clock
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        self._http = httpx.AsyncClient(
            auth=_BearerAuth(self._api_key),
            headers={"Accept": "application/json", "Accept-Language": "en-US,en"},
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
            ),
            # aiohttp on the wire unless a test passes its own (see service.zai.transport).
            transport=transport or AiohttpTransport(limits),
        )

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

    # --- translation -------------------------------------------------------------------------

    async def translate(self, request: TranslateRequest) -> Translation:
        """Translate, polling to completion if Z.ai answers asynchronously."""
        result = await self.submit(request)
        if isinstance(result, PendingTask):
            done = await self.poll(
                result.async_id, agent_id=result.agent_id, request_id=result.request_id
            )
            result = dataclasses.replace(done, attempts=result.attempts)
        self._log_done("agents", result)
        return result

    async def submit(self, request: TranslateRequest) -> Translation | PendingTask:
        """One agent call (with retries) that does not poll: persist a PendingTask's async_id."""
        validate(request)
        rid = request.request_id or new_request_id()
        url = f"{self.agents_base_url}/agents"

        async def attempt(n: int) -> Translation | PendingTask:
            # A fresh body request_id per retry: Z.ai rejects a reused one with 1231.
            body = agent_body(request, rid if n == 1 else f"{rid}-{n}")
            reply = await self._exchange("POST", "agents", url, rid, json=body)
            return parse_agent_reply(reply, request_id=rid, attempts=n)

        return await self._with_retries("agents", rid, attempt)

    async def poll(
        self,
        async_id: str,
        *,
        deadline: float | None = None,
        agent_id: str = AGENT_ID,
        request_id: str | None = None,
    ) -> Translation:
        """Poll ``async_id`` until success or failure; ``deadline`` = seconds allowed from now.

        Waits grow from ``poll_initial`` to ``poll_max``. Raises ZaiDeadlineExceeded (carrying
        ``async_id``) if the task is still pending when the deadline passes.
        """
        rid = request_id or new_request_id()
        ends = self._clock() + (self._async_deadline if deadline is None else deadline)
        wait, polls = self._poll_initial, 0
        while True:
            polls += 1
            result = await self._poll_once(agent_id, async_id, rid, polls)
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
        self, agent_id: str, async_id: str, rid: str, polls: int
    ) -> Translation | None:
        """One async-result exchange (transport faults retried); a terminal reply is not."""
        url = f"{self.agents_base_url}/agents/async-result"
        payload = {"agent_id": agent_id, "async_id": async_id}

        async def attempt(n: int) -> object:
            return await self._exchange("POST", "async_result", url, rid, json=payload)

        try:
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

    # --- files -------------------------------------------------------------------------------

    async def upload_file(
        self, filename: str, content: bytes, *, purpose: str = "agent"
    ) -> FileObject:
        """Upload a file (e.g. a glossary) as multipart/form-data."""
        if not filename.strip() or not content:
            raise ZaiInvalidRequest("filename and content must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/files"
        parts = {"file": (filename, content, "application/octet-stream")}

        async def attempt(n: int) -> FileObject:
            reply = await self._exchange(
                "POST", "files_upload", url, rid, data={"purpose": purpose}, files=parts
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

        async def attempt(n: int) -> tuple[list[FileObject], bool]:
            url = f"{self.files_base_url}/files"
            reply = await self._exchange("GET", "files_list", url, rid, params=params)
            return parse_file_list(reply)

        return await self._with_retries("files_list", rid, attempt)

    async def delete_file(self, file_id: str) -> bool:
        """Delete a file; False if Z.ai reports it unknown or did not delete it."""
        if not file_id.strip():
            raise ZaiInvalidRequest("file_id must not be empty")
        rid = new_request_id()
        url = f"{self.files_base_url}/files/{file_id}"

        async def attempt(n: int) -> bool:
            return parse_deleted(await self._exchange("DELETE", "files_delete", url, rid))

        try:
            return await self._with_retries("files_delete", rid, attempt)
        except ZaiFileNotFound:
            return False

    # --- plumbing ----------------------------------------------------------------------------

    async def _with_retries(
        self, route: str, rid: str, attempt: Callable[[int], Awaitable[T]]
    ) -> T:
        """Run ``attempt(n)`` until it succeeds or the policy gives up; a small loop on purpose
        (see service.zai.retry for why not tenacity)."""
        n = 0
        while True:
            n += 1
            try:
                return await attempt(n)
            except ZaiError as err:
                self._annotate(err, rid, n)
                delay = self._retry.next_delay(err, n)
                outcome = "retry" if delay is not None else "failed"
                level = logging.INFO if delay is not None else logging.WARNING
                self._log(route, rid, n, outcome, level, error=err, delay=delay)
                if delay is None:
                    raise
                await self._sleep(delay)

    def _annotate(self, err: ZaiError, rid: str, attempts: int) -> None:
        redact(err, self._api_key.get_secret_value())
        err.request_id = err.request_id or rid
        err.attempts = attempts

    async def _exchange(self, method: str, route: str, url: str, rid: str, **kw: Any) -> object:
        """One HTTP request: the parsed JSON of a 2xx, else a classified ZaiError."""
        headers = {"X-Request-Id": rid}
        if "json" in kw:  # orjson: httpx's own encoding (json.dumps) costs more per call
            kw["content"] = orjson.dumps(kw.pop("json"))
            headers["Content-Type"] = "application/json"
        async with _key_semaphore(self.key_fingerprint, self._max_concurrency):
            try:
                response = await self._http.request(method, url, headers=headers, **kw)
            except httpx.TimeoutException as exc:
                raise ZaiTimeout(f"{type(exc).__name__} on {route}: {exc}") from exc
            except httpx.TransportError as exc:
                raise ZaiConnectionError(f"{type(exc).__name__} on {route}: {exc}") from exc
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
