"""Async httpx client for Z.ai's General Translation agent and the file API: each route's
request and reply (the exchanges and their retries: http.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from types import TracebackType

import httpx
from pydantic import SecretStr

from service.auth.credentials import key_fingerprint
from service.pipeline.ports.upstream import UpstreamRequest
from service.zai.errors import ZaiDeadlineExceeded, ZaiError
from service.zai.http import (
    HEADERS,
    AttemptObserver,
    BearerAuth,
    Exchanges,
    Sleep,
    file_refusal,
    new_request_id,
)
from service.zai.models import (
    AGENT_ID,
    TOKENIZER_MODEL,
    PendingTask,
    TranslateRequest,
    Translation,
    agent_body,
    validate,
)
from service.zai.paas import PaasCalls
from service.zai.replies import (
    parse_agent_reply,
    parse_async_result,
)
from service.zai.retry import RetryPolicy
from service.zai.transport import AiohttpTransport

logger = logging.getLogger(__name__)


class ZaiClient(PaasCalls):
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
        self._api_key, self.key_fingerprint = _identity(api_key, account)
        self.agents_base_url = agents_base_url.rstrip("/")
        self.files_base_url = files_base_url.rstrip("/")
        self._async_deadline = async_deadline
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._sleep = sleep
        self._clock = clock
        self.tokenizer_model = tokenizer_model
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
        )
        self._http = httpx.AsyncClient(
            auth=BearerAuth(self._api_key) if self._api_key is not None else None,
            headers=HEADERS,
            timeout=timeout,
            # aiohttp on the wire unless a test passes its own (see service.zai.transport).
            transport=transport or AiohttpTransport(limits),
        )
        self._x = Exchanges(
            self._http,
            self._api_key,
            timeout,
            fingerprint=self.key_fingerprint,
            max_concurrency=max_concurrency,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            on_attempt=on_attempt,
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
        self._x.log_done("agents", result)
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
            with file_refusal(request.glossary):
                reply = await self._x.exchange("POST", "agents", url, rid, key, json=body)
                return parse_agent_reply(reply, request_id=rid, attempts=n)

        return await self._x.with_retries("agents", rid, attempt)

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
            self._x.log("async_result", rid, polls, "pending", logging.DEBUG, remaining=remaining)
            if remaining <= 0:
                err = ZaiDeadlineExceeded(
                    f"async task still pending after {polls} polls",
                    request_id=rid,
                    async_id=async_id,
                )
                self._x.log("async_result", rid, polls, "deadline", logging.WARNING, error=err)
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
            return await self._x.exchange("POST", "async_result", url, rid, key, json=payload)

        try:
            with file_refusal(glossary):
                reply = await self._x.with_retries("async_result", rid, attempt)
                result = parse_async_result(reply, request_id=rid, attempts=0, polls=polls)
        except ZaiError as err:
            # Re-polling a failed task returns the same failure: surface it; err.retryable
            # tells the caller whether a fresh submit may succeed.
            err.async_id = async_id
            if err.attempts == 0:
                self._x.annotate(err, rid, polls)
                self._x.log("async_result", rid, polls, "failed", logging.WARNING, error=err)
            raise
        if result is None:
            return None
        return dataclasses.replace(result, async_id=result.async_id or async_id)

    async def can_delete_files(self) -> bool:
        """Whether files can be deleted (and so evicted) through this connection: always
        directly; through a proxy only when it offers the call."""
        return True


def _identity(api_key: str | SecretStr | None, account: str | None) -> tuple[SecretStr | None, str]:
    """The key (None: the transport authenticates) and the account's fingerprint."""
    key = SecretStr(api_key) if isinstance(api_key, str) else api_key
    if key is None:
        if not account:
            raise ValueError("an api_key, or an account for a transport that authenticates")
        return None, account
    if not key.get_secret_value():
        raise ValueError("api_key must not be empty")
    return key, account or key_fingerprint(key)
