"""The httpx transport under ZaiClient that sends its calls through Truto's Proxy API.

ZaiClient keeps building Z.ai requests (`POST …/agents`, `…/agents/async-result`, multipart
`POST …/files`, …). This transport rewrites each into the proxy call of the tenant's integrated
account, spends one call from the account's budget, and turns the reply back into what Z.ai
would have answered: a 2xx body unwrapped from Truto's `result` envelope where it has one, an
error raised as the classified ZaiError (service.zai.truto.classify) so ZaiClient's retry policy
decides as it does for Z.ai itself.

    POST …/agents               ->  POST {truto}/proxy/{agents}?integrated_account_id=…
    POST …/agents/async-result  ->  POST {truto}/proxy/{async result}?integrated_account_id=…
    POST …/files (multipart)    ->  POST {truto}/proxy/{files}?…&truto_body_passthrough=true
    DELETE …/files/{id}         ->  DELETE {truto}/proxy/{files}/{id}?…  (only if offered)
    POST …/tokenizer            ->  POST {truto}/proxy/{tokenizer}?integrated_account_id=…

Headers kept: Content-Type (with the multipart boundary), Accept, Accept-Language, X-Request-Id,
Idempotency-Key (one per logical call, the same on its retries). Authorization becomes the
Truto API token: no Z.ai key exists on this path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from service.zai.errors import ZaiPermissionDenied
from service.zai.truto.classify import classify_truto, is_truto_rate_limit
from service.zai.truto.tools import TOOL_NAMES, Operation, Route, operation_of

if TYPE_CHECKING:
    from service.zai.truto.gateway import TrutoGateway

_KEPT_HEADERS = ("content-type", "accept", "accept-language", "x-request-id", "idempotency-key")
# Truto's envelope of lists and custom calls (docs/truto.md).
_ENVELOPE_KEYS = frozenset(
    ["result", "next_cursor", "prev_cursor", "result_count", "is_partial_response"]
)


class TrutoTransport(httpx.AsyncBaseTransport):
    """One integrated account's calls; the pool, routes and budgets belong to the gateway."""

    def __init__(self, gateway: TrutoGateway, account_id: str) -> None:
        self._gateway = gateway
        self._account = account_id

    async def offers(self, operation: Operation) -> bool:
        return await self._gateway.route(self._account, operation, {}) is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation, item = operation_of(request)
        route = await self._gateway.route(self._account, operation, request.extensions)
        if route is None:
            raise ZaiPermissionDenied(
                f"Truto offers integrated account {self._account!r} no "
                f"{TOOL_NAMES[operation]!r} tool; set TRUTO_RESOURCES[{operation.value!r}]"
            )
        outgoing = self._rewrite(request, operation, route, item, await request.aread())
        async with self._gateway.budget(self._account).spend():
            response = await self._gateway.send(outgoing)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        body = _json(content)
        if response.is_success:
            return _reply(response.status_code, operation, body, content)
        if is_truto_rate_limit(response.status_code, body):
            self._gateway.rate_limited(self._account, response.headers)
        error = classify_truto(response.status_code, body, response.headers, route=operation.value)
        raise self._gateway.scrubbed(error)

    async def aclose(self) -> None:
        """Nothing to close: the connection pool is the gateway's, shared by every account."""

    def _rewrite(
        self,
        request: httpx.Request,
        operation: Operation,
        route: Route,
        item: str | None,
        content: bytes,
    ) -> httpx.Request:
        params: dict[str, str] = {}
        if operation is Operation.list_files:
            params.update(request.url.params)  # purpose, limit, after: forwarded as they are
        params["integrated_account_id"] = self._account
        if operation is Operation.upload:
            params["truto_body_passthrough"] = "true"  # the multipart body goes up as sent
        headers = {k: v for k, v in request.headers.items() if k.lower() in _KEPT_HEADERS}
        return httpx.Request(
            route.verb(),
            self._gateway.base_url + route.path(item),
            params=params,
            headers=self._gateway.authorized(headers),
            content=content or None,
            extensions=request.extensions,
        )


def _json(content: bytes) -> object:
    try:
        return json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _reply(status: int, operation: Operation, body: object, raw: bytes) -> httpx.Response:
    """What Z.ai would have answered: the upstream body, out of Truto's envelope if wrapped."""
    if body is None:
        return httpx.Response(status, content=raw)  # ZaiClient reports what it cannot read
    return httpx.Response(status, json=unwrap(operation, body))


def unwrap(operation: Operation, body: object) -> object:
    """Create and get calls answer the upstream body as is; lists (and custom calls) answer
    `{result, next_cursor, …}`. A list becomes Z.ai's `{object, data, has_more}`."""
    if not isinstance(body, Mapping) or "result" not in body or not set(body) <= _ENVELOPE_KEYS:
        return body
    result: Any = body["result"]
    if operation is Operation.list_files:
        data = result if isinstance(result, list) else []
        return {"object": "list", "data": data, "has_more": body.get("next_cursor") is not None}
    return result
