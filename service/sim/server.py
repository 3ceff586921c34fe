"""The simulator's ASGI app: a thin adapter from HTTP to the pure wire/translate/fault modules.

A raw ASGI callable with a dict dispatch (no framework routing or validation) keeps the hot
agents route cheap; Starlette supplies only Request/Response parsing and rendering.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import orjson
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.sim import control, files
from service.sim.config import SimConfig, sample_latency_ms
from service.sim.faults import Fault, Kind, Route, render_message
from service.sim.http import Call, Handler, error_response, json_response, read_json
from service.sim.state import AsyncTask, SimState, key_hash
from service.sim.translate import Corruption
from service.sim.wire import (
    RequestError,
    SentCall,
    Translation,
    async_result_reply,
    failed_reply,
    network_error,
    parse_agent_request,
    parse_async_result_request,
    parse_tokenizer_request,
    pending_reply,
    sent_call,
    stream_chunks,
    tokenizer_reply,
    translate_request,
    translation_reply,
)

logger = logging.getLogger(__name__)

FILES_PATH = "/api/paas/v4/files"
TOKENIZER_PATH = "/api/paas/v4/tokenizer"


# --- agents ----------------------------------------------------------------------------------


async def agents(call: Call) -> Response:
    state = call.state
    body = await read_json(call.request)
    state.record("agents", call.owner, body)
    req = parse_agent_request(body)
    terms = files.glossary_terms(state, req.glossary, call.owner)
    state.claim_request_id(call.owner, body.get("request_id"))
    corruption = _corruption(call.fault)
    result = translate_request(req, terms, _finish_reason(call.fault), corruption)
    state.counters.translations += 1
    state.counters.glossary_applied += bool(terms)
    failing = call.fault is not None and call.fault.kind is Kind.async_failed
    if req.stream:
        return sse_response(state, result, failing)
    task_id = state.new_task_id()
    if state.config.mode == "sync" and not failing:
        return json_response(translation_reply(result, task_id=task_id, sdk_compat=call.sdk_compat))
    task = AsyncTask(
        state.new_async_id(),
        task_id,
        call.owner,
        req,
        terms,
        state.clock.now(),
        failing,
        corruption,
    )
    state.tasks[task.async_id] = task
    state.counters.async_submitted += 1
    return json_response(pending_reply(task.async_id))


async def async_result(call: Call) -> Response:
    state = call.state
    body = await read_json(call.request)
    state.record("async_result", call.owner, body)
    agent_id, async_id = parse_async_result_request(body)
    task = state.tasks.get(async_id)
    if task is None or task.owner != call.owner:
        return error_response(state, 404, "1214", f"Task not found: async_id {async_id!r}")
    task.polls += 1
    if agent_id and agent_id != task.request.agent_id:
        raise RequestError(f"agent_id {agent_id!r} does not match the task's agent")
    if call.fault is not None and call.fault.kind is Kind.async_failed:
        task.failed = True
    if task.failed:
        return json_response(failed_reply(async_id, network_error(task.task_id)))
    if not state.task_done(task):
        return json_response(pending_reply(async_id))
    corruption = _corruption(call.fault)
    if corruption is Corruption.none:
        corruption = task.corruption
    result = translate_request(task.request, task.terms, _finish_reason(call.fault), corruption)
    reply = async_result_reply(
        result,
        task_id=task.task_id,
        async_id=async_id,
        field=state.config.async_result_field,
        sdk_compat=call.sdk_compat,
    )
    return json_response(reply)


async def tokenizer(call: Call) -> Response:
    """`POST /paas/v4/tokenizer`: a deterministic count of the messages' text."""
    state = call.state
    body = await read_json(call.request)
    state.record("tokenizer", call.owner, body)
    texts = parse_tokenizer_request(body)
    state.claim_request_id(call.owner, body.get("request_id"))  # a reused one is 1231
    rid = body.get("request_id")
    request_id = rid if isinstance(rid, str) and rid else state.new_task_id()
    created = int(state.clock.now())
    task_id = state.new_task_id()
    return json_response(
        tokenizer_reply(texts, task_id=task_id, request_id=request_id, created=created)
    )


def _corruption(fault: Fault | None) -> Corruption:
    return Corruption(fault.name) if fault and fault.kind is Kind.content else Corruption.none


def _finish_reason(fault: Fault | None) -> str:
    return fault.finish_reason if fault and fault.kind is Kind.finish_reason else "stop"


def sse_response(state: SimState, result: Translation, failing: bool) -> StreamingResponse:
    task_id = state.new_task_id()
    state.counters.streams += 1
    if failing:
        events = [{"error": network_error(task_id)}]
    else:
        events = stream_chunks(result, task_id=task_id)

    async def body() -> AsyncIterator[bytes]:
        for event in events:
            yield b"data: " + orjson.dumps(event) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


# --- dispatch ----------------------------------------------------------------------------------

ZAI_ROUTES: dict[tuple[str, str], tuple[Route, Handler, bool]] = {
    ("POST", "/api/v1/agents"): (Route.agents, agents, False),
    ("POST", "/api/v1/agents/async-result"): (Route.async_result, async_result, False),
    ("POST", "/api/paas/v4/v1/agents"): (Route.agents, agents, True),
    ("POST", "/api/paas/v4/v1/agents/async-result"): (Route.async_result, async_result, True),
    ("POST", FILES_PATH): (Route.files_upload, files.upload, False),
    ("GET", FILES_PATH): (Route.files_list, files.list_files, False),
    ("POST", TOKENIZER_PATH): (Route.tokenizer, tokenizer, False),
}


class SimApp:
    """ASGI entry point. `state` is public so in-process users can inspect it."""

    def __init__(self, config: SimConfig) -> None:
        self.state = SimState(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            response = await self.dispatch(Request(scope, receive), send)
        except ClientDisconnect:
            return  # the caller went away mid-request (a drill killed it): nobody to answer
        if response is not None:
            await response(scope, receive, send)

    async def dispatch(self, request: Request, send: Send) -> Response | None:
        method, path = request.method, request.url.path.rstrip("/")
        if path.startswith("/_sim/"):
            return await control.handle(self.state, method, path, request)
        target = ZAI_ROUTES.get((method, path))
        if target is None and method == "DELETE" and path.startswith(FILES_PATH + "/"):
            target = (Route.files_delete, files.delete_file, False)
        if target is None:
            return error_response(self.state, 404, "1222", f"API does not exist: {method} {path}")
        response = await self.zai_call(request, send, *target)
        if response is not None:
            self.state.counters.status[str(response.status_code)] += 1
        return response

    async def zai_call(
        self, request: Request, send: Send, route: Route, handler: Handler, sdk_compat: bool
    ) -> Response | None:
        state = self.state
        state.counters.calls[route.value] += 1
        sent = sent_call(await request.body()) if route is Route.agents else SentCall()
        if route is Route.agents:
            # Counted on arrival like `calls`, so calls that then get a fault are included.
            state.counters.agents_by_target[sent.target_lang] += 1
        owner, denied = authenticate(state, request.headers.get("authorization"))
        if denied is not None:
            return denied
        state.counters.by_key[owner] += 1
        plan = state.plans.get(route)
        fault = plan.next_fault() if plan else None
        if fault is not None:
            state.counters.faults_injected[fault.name] += 1
        state.log_call(route, owner, sent, fault.name if fault else "ok")
        delay = sample_latency_ms(state.config, state.rng) / 1000
        if fault is not None and fault.kind is Kind.slow:
            delay += state.config.slow_seconds
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and fault.kind in _EARLY_FAULTS:
            return await _EARLY_FAULTS[fault.kind](state, fault, send)
        try:
            return await handler(Call(request, state, owner, fault, sdk_compat))
        except RequestError as exc:
            return error_response(state, exc.status, exc.code, exc.message)


def authenticate(state: SimState, header: str | None) -> tuple[str, Response | None]:
    """(key hash, None) or ("", 401 reply): 1001 without a Bearer token, 1002 for an unknown key."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return "", error_response(
            state, 401, "1001", "Authorization header not received, authentication failed"
        )
    if state.config.api_keys and token not in state.config.api_keys:
        return "", error_response(state, 401, "1002", "Token expired or incorrect")
    return key_hash(token), None


async def _error_fault(state: SimState, fault: Fault, send: Send) -> Response:
    reset_at = datetime.fromtimestamp(state.clock.now(), UTC) + timedelta(hours=5)
    message = render_message(fault, reset_at.strftime("%Y-%m-%d %H:%M:%S"), state.new_task_id())
    response = error_response(state, fault.status, fault.code, message)
    if fault.retry_after is not None:
        response.headers["retry-after"] = str(fault.retry_after)
    return response


async def _malformed(state: SimState, fault: Fault, send: Send) -> Response:
    truncated = (
        b'{"id": "'
        + state.new_task_id().encode()
        + b'", "agent_id": "general_translation", "status": "succ'
    )
    return Response(truncated, 200, media_type="application/json")


async def _drop(state: SimState, fault: Fault, send: Send) -> None:
    """Abort the TCP connection before any byte of a response is written.

    uvicorn passes its RequestResponseCycle's bound `send`; its transport is the socket. If it is
    not reachable (another server), raising makes the server give up on the request.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("drop fault: transport not reachable")
    transport.abort()
    await asyncio.sleep(0)  # let the server notice the disconnect before the app returns


_EARLY_FAULTS: dict[Kind, Callable[[SimState, Fault, Send], Awaitable[Response | None]]] = {
    Kind.error: _error_fault,
    Kind.malformed_json: _malformed,
    Kind.drop: _drop,
}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- running -----------------------------------------------------------------------------------


def make_server(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    lifespan: Literal["on", "off"] = "off",
) -> uvicorn.Server:
    """A uvicorn server for the app: uvloop and httptools when installed, no access log."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        http="auto",
        lifespan=lifespan,
        access_log=False,
        log_level=log_level,
        timeout_graceful_shutdown=1,
        backlog=4096,
    )
    return uvicorn.Server(config)


def serve(
    config: SimConfig, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info"
) -> None:
    """Run the simulator in the foreground until interrupted."""
    logger.info("Z.ai simulator on http://%s:%d", host, port)
    make_server(SimApp(config), host, port, log_level).run()


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A bound, listening-ready socket on a free port (no race between picking and binding)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock
