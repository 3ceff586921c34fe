"""The `/_sim/*` control API used by tests, the demo and fault drills (no auth, JSON in and out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from service.sim.faults import FaultError, FaultPlan, Route
from service.sim.http import json_response
from service.sim.state import SimState, request_digest

ControlHandler = Callable[[SimState, dict[str, Any], Request], Awaitable[Any]]


class ControlError(ValueError):
    """A bad control request (400)."""


async def handle(state: SimState, method: str, path: str, request: Request) -> Response:
    handler = _ROUTES.get((method, path))
    if handler is None:
        return error(404, f"no control route {method} {path}")
    try:
        return json_response(await handler(state, await object_body(request), request))
    except (orjson.JSONDecodeError, ControlError, FaultError, ValidationError) as exc:
        return error(400, str(exc))


async def object_body(request: Request) -> dict[str, Any]:
    """A control request's JSON object body (none: {}); ControlError if it is not one."""
    body = orjson.loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def error(status: int, message: str) -> Response:
    """A control API error body, as the simulators answer them."""
    return json_response({"error": {"code": str(status), "message": message}}, status)


async def counters(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return state.snapshot()


async def reset(state: SimState, body: dict[str, Any], request: Request) -> Any:
    state.reset()
    return {"reset": True, "config": state.config.public()}


async def get_config(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return state.config.public()


async def set_config(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return state.configure(body).public()


async def set_faults(state: SimState, body: dict[str, Any], request: Request) -> Any:
    """Replace the plan of one route; an empty script and no rates clear it."""
    try:
        route = Route(str(body.get("route")))
    except ValueError as exc:
        raise ControlError(f"route must be one of {[r.value for r in Route]}") from exc
    script, rates = body.get("script") or [], body.get("rates") or {}
    if not isinstance(script, list) or not all(isinstance(s, str) for s in script):
        raise ControlError("script must be a list of fault names")
    if not isinstance(rates, dict) or not all(isinstance(r, int | float) for r in rates.values()):
        raise ControlError("rates must map fault names to probabilities")
    plan = FaultPlan.build(route, script, rates, body.get("seed"))
    state.plans[route] = plan
    return plan.describe()


async def get_faults(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return {route.value: plan.describe() for route, plan in state.plans.items()}


async def advance_clock(state: SimState, body: dict[str, Any], request: Request) -> Any:
    seconds = body.get("advance_seconds", 0)
    if not isinstance(seconds, int | float):
        raise ControlError("advance_seconds must be a number")
    state.clock.advance(float(seconds))
    return {"now": state.clock.now(), "offset": state.clock.offset}


async def recent_requests(state: SimState, body: dict[str, Any], request: Request) -> Any:
    """The last 200 request bodies (optionally `?route=agents`), oldest first."""
    route = request.query_params.get("route")
    return [r for r in state.requests if route is None or r["route"] == route]


async def call_log(state: SimState, body: dict[str, Any], request: Request) -> Any:
    """Every Z.ai call with the fault it drew (optionally `?route=agents`), oldest first."""
    route = request.query_params.get("route")
    return [c for c in state.calls if route is None or c["route"] == route]


async def async_tasks(state: SimState, body: dict[str, Any], request: Request) -> Any:
    """Every async task since the last reset (oldest first), with a digest of what was asked:
    drills tell a resubmission of the same call from a new one by it."""
    return [
        {
            "async_id": t.async_id,
            "key": t.owner,
            "created_at": t.created_at,
            "target_lang": t.request.target_lang,
            "content": request_digest(t.request),
            "failed": t.failed,
            "polls": t.polls,
        }
        for t in state.tasks.values()
    ]


async def stored_files(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return [
        {
            "id": f.id,
            "key": f.owner,
            "filename": f.filename,
            "bytes": f.size,
            "purpose": f.purpose,
            "created_at": f.created_at,
            "terms": f.terms,
            "parse_error": f.parse_error,
        }
        for f in state.live_files()
    ]


async def health(state: SimState, body: dict[str, Any], request: Request) -> Any:
    return {"ok": True}


_ROUTES: dict[tuple[str, str], ControlHandler] = {
    ("GET", "/_sim/counters"): counters,
    ("POST", "/_sim/reset"): reset,
    ("GET", "/_sim/config"): get_config,
    ("POST", "/_sim/config"): set_config,
    ("GET", "/_sim/faults"): get_faults,
    ("POST", "/_sim/faults"): set_faults,
    ("POST", "/_sim/clock"): advance_clock,
    ("GET", "/_sim/requests"): recent_requests,
    ("GET", "/_sim/calls"): call_log,
    ("GET", "/_sim/files"): stored_files,
    ("GET", "/_sim/tasks"): async_tasks,
    ("GET", "/_sim/health"): health,
}
