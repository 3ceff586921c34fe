"""The Truto simulator: Truto's Proxy API for the Z.ai integration, in front of the Z.ai simulator.

    client ──Bearer <Truto token>──► /proxy/{resource}?integrated_account_id=…  (this app)
                                        │ token auth, rate windows, account state, faults,
                                        │ Idempotency-Key replay
                                        └──Bearer <the account's Z.ai key>──► Z.ai simulator

Processing order of a proxy call: scan for Z.ai keys (counted, must stay 0) → token auth (401)
→ account (400 without `integrated_account_id`, 404 unknown) → token, then account window
(429 + `Retry-After`) → blocked (503) → sandbox write (405) → `needs_reauth` (remote 401) →
Idempotency-Key replay → scripted fault (502, 504, remote_401, blocked) → tool lookup (404) →
multipart needs `truto_body_passthrough=true` (400) → forward with the account's key → the
provider's body (2xx, stored for its Idempotency-Key) or a remote error envelope with the
provider's headers. docs/truto.md has the whole contract.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from service.sim import truto_control
from service.sim.http import json_response
from service.sim.truto_model import (
    Tool,
    find_tool,
    remote_error,
    secrets_in,
    tools_reply,
    truto_error,
)
from service.sim.truto_state import Account, Stored, TrutoState, token_hash

logger = logging.getLogger(__name__)

_TOOLS_PATH = re.compile(r"/integrated-account/([^/]+)/tools")
_FORWARDED = ("content-type", "accept", "accept-language", "x-request-id")
# Provider headers Truto does not pass back as they are (our server sets its own).
_NOT_PASSED_BACK = frozenset(
    ["content-length", "content-type", "transfer-encoding", "connection", "date", "server"]
)
_MUTATING = frozenset(["POST", "PUT", "PATCH", "DELETE"])
_REMOTE_401 = {"error": {"code": "1002", "message": "Authorization Token expired or incorrect"}}


def own(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(truto_error(status, message), status, dict(headers or {}))


class TrutoSimApp:
    """ASGI entry point; `state` is public so in-process users can inspect it."""

    def __init__(self, state: TrutoState) -> None:
        self.state = state
        self._http: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if path.startswith("/_truto/"):
            return await truto_control.handle(self.state, request.method, path, request)
        body = await request.body()
        token = _bearer(request.headers.get("authorization"))
        response = await self._call(request, path, body, token)
        self.state.counters.status[str(response.status_code)] += 1
        self.state.record(
            {
                "method": request.method,
                "path": path,
                "query": dict(request.query_params),
                "token": token_hash(token),
                "idempotency_key": request.headers.get("idempotency-key"),
                "content_type": request.headers.get("content-type"),
                "status": response.status_code,
            }
        )
        return response

    async def _call(self, request: Request, path: str, body: bytes, token: str) -> Response:
        state = self.state
        headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        if secrets_in(state.zai_keys(), headers, request.url.query, body):
            state.counters.zai_keys_seen += 1
        if not state.token_ok(token):
            return own(401, "Invalid API token")
        state.counters.tokens[token_hash(token)] += 1
        if (match := _TOOLS_PATH.fullmatch(path)) and request.method == "GET":
            return self._tools(match[1], token)
        if path.startswith("/proxy/"):
            return await self._proxy(request, path, body, token)
        return own(404, f"Route not found: {request.method} {path}")

    def _tools(self, account_id: str, token: str) -> Response:
        self.state.counters.tools_calls += 1
        limited = self._rate_limit(token, None)
        if limited is not None:
            return limited
        if account_id not in self.state.accounts:
            return own(404, "Integrated account not found")
        return json_response(tools_reply())

    # --- the proxy ---------------------------------------------------------------------------

    async def _proxy(self, request: Request, path: str, body: bytes, token: str) -> Response:
        state, method = self.state, request.method
        account_id = request.query_params.get("integrated_account_id")
        if not account_id:
            return own(400, "integrated_account_id is required")
        account = state.accounts.get(account_id)
        if account is None:
            return own(404, "Integrated account not found")
        limited = self._rate_limit(token, account_id)
        if limited is not None:
            return limited
        resource, _, rest = path.removeprefix("/proxy/").partition("/")
        state.counters.proxy_calls[resource] += 1
        state.counters.by_account[account_id] += 1
        idem = request.headers.get("idempotency-key")
        if method in _MUTATING and not idem:
            state.counters.without_idempotency_key += 1
        refused = self._refused(account, method)
        if refused is not None:
            return refused
        replay_key = (account_id, method, path, idem or "")
        if idem and replay_key in state.replay:
            state.counters.replays += 1
            stored = state.replay[replay_key]
            replayed = Response(stored.body, stored.status, media_type=stored.content_type)
            replayed.headers["idempotent-replayed"] = "true"
            return self._with_rate_headers(replayed, account_id)
        fault = state.next_fault()
        if fault != "ok":
            state.counters.faults_injected[fault] += 1
            faulted = self._fault(account, fault)
            if faulted is not None:
                return faulted
        found = find_tool(method, resource, rest)
        if found is None:
            return own(404, f"Resource {resource!r} does not support {method} here")
        if _multipart(request) and request.query_params.get("truto_body_passthrough") != "true":
            return own(400, "multipart bodies need truto_body_passthrough=true")
        response = await self._forward(request, account, *found, body)
        if fault == "504":  # forwarded, but the answer never made it back to the caller
            return own(504, "Gateway timeout: the provider did not answer in time")
        if response.status_code < 300 and idem:
            state.replay[replay_key] = Stored(
                response.status_code, bytes(response.body), response.media_type or ""
            )
        return self._with_rate_headers(response, account_id)

    def _refused(self, account: Account, method: str) -> Response | None:
        """The account's standing state: blocked, sandbox, or waiting for a reconnect."""
        if account.blocked:
            return own(503, "Integrated account is blocked")
        if account.sandbox and method in _MUTATING:
            return own(405, "Sandbox integrated accounts cannot make write operations")
        if account.status == "needs_reauth":
            return json_response(remote_error(401, account.last_error), 401)
        return None

    def _fault(self, account: Account, fault: str) -> Response | None:
        if fault == "502":
            return own(502, "Bad gateway: no clean response from the provider")
        if fault == "blocked":
            account.blocked = True
            return own(503, "Integrated account is blocked")
        if fault == "remote_401":
            account.status, account.last_error = "needs_reauth", _REMOTE_401
            return json_response(remote_error(401, _REMOTE_401), 401)
        return None  # "504": forwarded first

    async def _forward(
        self, request: Request, account: Account, tool: Tool, item: str | None, body: bytes
    ) -> Response:
        state = self.state
        url = state.config.zai_base_url.rstrip("/") + tool.upstream + (f"/{item}" if item else "")
        query = request.query_params.multi_items()
        params = httpx.QueryParams([(k, v) for k, v in query if not k.startswith("truto_")])
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED}
        headers["authorization"] = f"Bearer {account.zai_key}"  # Truto injects the key
        try:
            upstream = await self._client().request(
                request.method,
                url,
                params=params,
                headers=headers,
                content=body,
                timeout=state.config.upstream_timeout,
            )
        except httpx.TimeoutException:
            return own(504, "Gateway timeout: the provider did not answer in time")
        except httpx.HTTPError:
            return own(502, "Bad gateway: no clean response from the provider")
        state.counters.forwarded[tool.resource] += 1
        if upstream.is_success:
            kind = upstream.headers.get("content-type", "application/json")
            return Response(upstream.content, upstream.status_code, media_type=kind)
        return self._remote(account, upstream)

    def _remote(self, account: Account, upstream: httpx.Response) -> Response:
        try:
            raw: object = upstream.json()
        except ValueError:
            raw = upstream.text
        if upstream.status_code == 401:  # the provider refused the key: reconnect needed
            account.status, account.last_error = "needs_reauth", raw
        passed = {k: v for k, v in upstream.headers.items() if k.lower() not in _NOT_PASSED_BACK}
        return json_response(remote_error(upstream.status_code, raw), upstream.status_code, passed)

    # --- limits ------------------------------------------------------------------------------

    def _rate_limit(self, token: str, account_id: str | None) -> Response | None:
        """Count the call against the token's and the account's windows, or answer 429."""
        state, cfg = self.state, self.state.config
        now, seconds = state.now(), cfg.window_seconds
        token_log = state.token_log[token_hash(token)]
        if token_log.count(now, seconds) >= cfg.token_limit:
            return self._limited("token", cfg.token_limit, token_log.reset_in(now, seconds))
        if account_id is not None:
            log = state.account_log[account_id]
            if log.count(now, seconds) >= cfg.account_limit:
                scope = f"account:{account_id}"
                return self._limited(scope, cfg.account_limit, log.reset_in(now, seconds))
            log.add(now)
        token_log.add(now)
        return None

    def _limited(self, scope: str, limit: int, reset: float) -> Response:
        state = self.state
        state.counters.rate_limited[scope] += 1
        state.limited_at[scope].append(state.now())
        headers = {
            "retry-after": str(state.config.retry_after),
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(max(1, round(reset))),
        }
        return own(429, "Too many requests", headers)

    def _with_rate_headers(self, response: Response, account_id: str) -> Response:
        cfg, now = self.state.config, self.state.now()
        log = self.state.account_log[account_id]
        used = log.count(now, cfg.window_seconds)
        response.headers["ratelimit-limit"] = str(cfg.account_limit)
        response.headers["ratelimit-remaining"] = str(max(0, cfg.account_limit - used))
        response.headers["ratelimit-reset"] = str(round(log.reset_in(now, cfg.window_seconds)))
        return response

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Close the forwarding client on shutdown, in the loop that opened it."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/")
