"""What every Truto-connected client of a worker shares, and the client itself.

One `TrutoGateway` per process (built in service/bootstrap.py): the API token, one connection
pool to Truto, each account's routes (read from its tools on first use, then cached), and the
call budgets: the token's window is shared by all accounts, each account has its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from service.zai.client import ZaiClient
from service.zai.errors import ZaiError, redact
from service.zai.retry import parse_retry_after
from service.zai.truto.budget import Budget, Sleep, Window
from service.zai.truto.classify import TRUTO_RETRY_AFTER, classify_truto
from service.zai.truto.tools import Operation, Route, parse_override, routes_from_tools
from service.zai.truto.transport import TrutoTransport

TRUTO_BASE_URL = "https://api.truto.one"
# ZaiClient needs base URLs; the transport maps paths, so these are never resolved.
_VIA_TRUTO = "https://zai.via-truto.invalid"


def account_key(account_id: str) -> str:
    """The upstream-account id of a Truto connection (upload cache, per-account semaphore)."""
    return "truto-" + hashlib.sha256(account_id.encode()).hexdigest()[:16]


class TrutoGateway:
    def __init__(
        self,
        token: SecretStr,
        base_url: str = TRUTO_BASE_URL,
        *,
        resources: Mapping[str, str] | None = None,
        account_limit: int = 50,
        token_limit: int = 500,
        period: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not token.get_secret_value():
            raise ValueError("the Truto API token must not be empty")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._overrides = {
            Operation(op): parse_override(Operation(op), value)
            for op, value in (resources or {}).items()
        }
        self._inner = transport or httpx.AsyncHTTPTransport(limits=httpx.Limits())
        self._clock, self._sleep = clock, sleep
        self._account_limit, self._period = account_limit, period
        self.token_window = Window(token_limit, period)
        self._token_budget = Budget([self.token_window], clock=clock, sleep=sleep)
        self._budgets: dict[str, Budget] = {}
        self._routes: dict[str, dict[Operation, Route]] = {}
        self._discovering: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"TrutoGateway(base_url={self.base_url!r}, token=SecretStr('**********'))"

    def client(self, account_id: str, **options: Any) -> TrutoZaiClient:
        return TrutoZaiClient(self, account_id, **options)

    # --- budgets -----------------------------------------------------------------------------

    def budget(self, account_id: str) -> Budget:
        """The account's budget: its own window and the token's."""
        budget = self._budgets.get(account_id)
        if budget is None:
            window = Window(self._account_limit, self._period)
            budget = Budget([window, self.token_window], clock=self._clock, sleep=self._sleep)
            self._budgets[account_id] = budget
        return budget

    def rate_limited(self, account_id: str, headers: Mapping[str, str]) -> None:
        """Truto answered 429: the limited window waits out Retry-After for every caller, so
        the service meets at most one 429 per window. `ratelimit-limit` says which it was."""
        budget = self.budget(account_id)
        seconds = parse_retry_after(headers.get("retry-after")) or TRUTO_RETRY_AFTER
        limit = headers.get("ratelimit-limit", "").strip()
        is_token = limit == str(self.token_window.limit) != str(self._account_limit)
        budget.pause(self.token_window if is_token else budget.windows[0], seconds)

    # --- routes ------------------------------------------------------------------------------

    async def route(
        self, account_id: str, operation: Operation, extensions: Mapping[str, Any]
    ) -> Route | None:
        """The proxy route of `operation` for the account: TRUTO_RESOURCES first, else its
        tools (read once per account; a failed read is not cached)."""
        if operation in self._overrides:
            return self._overrides[operation]
        routes = self._routes.get(account_id)
        if routes is None:
            lock = self._discovering.setdefault(account_id, asyncio.Lock())
            async with lock:
                routes = self._routes.get(account_id)
                if routes is None:
                    routes = await self._discover(account_id, extensions)
                    self._routes[account_id] = routes
        return routes.get(operation)

    async def _discover(
        self, account_id: str, extensions: Mapping[str, Any]
    ) -> dict[Operation, Route]:
        request = httpx.Request(
            "GET",
            f"{self.base_url}/integrated-account/{account_id}/tools",
            headers=self.authorized({"accept": "application/json"}),
            extensions=dict(extensions),
        )
        async with self._token_budget.spend():  # not a proxy call: only the token's limit
            response = await self.send(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        try:
            body: object = json.loads(content)
        except ValueError:
            body = None
        if not response.is_success:
            error = classify_truto(response.status_code, body, response.headers, route="tools")
            raise self.scrubbed(error)
        return routes_from_tools(body)

    # --- HTTP --------------------------------------------------------------------------------

    def scrubbed(self, error: ZaiError) -> ZaiError:
        """The error without the API token, should Truto ever echo it in a message."""
        return redact(error, self._token.get_secret_value())

    def authorized(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {**headers, "authorization": f"Bearer {self._token.get_secret_value()}"}

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TrutoZaiClient(ZaiClient):
    """ZaiClient for one integrated account: every call through Truto's proxy, no Z.ai key."""

    def __init__(self, gateway: TrutoGateway, account_id: str, **options: Any) -> None:
        if not account_id.strip():
            raise ValueError("integrated_account_id must not be empty")
        self._truto = TrutoTransport(gateway, account_id)
        super().__init__(
            None,
            account=account_key(account_id),
            agents_base_url=f"{_VIA_TRUTO}/api/v1",
            files_base_url=f"{_VIA_TRUTO}/api/paas/v4",
            transport=self._truto,
            **options,
        )

    def __repr__(self) -> str:
        return f"TrutoZaiClient(account={self.key_fingerprint!r})"

    async def can_delete_files(self) -> bool:
        """Only if the account's tools offer a file delete (Truto lists none for Z.ai)."""
        return await self._truto.offers(Operation.delete_file)
