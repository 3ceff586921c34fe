"""Shared HTTP plumbing of the simulator's handlers: the call context and JSON responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from service.sim.faults import Fault
from service.sim.state import SimState
from service.sim.wire import RequestError, error_body


@dataclass
class Call:
    """One authenticated Z.ai call, as handlers see it."""

    request: Request
    state: SimState
    owner: str  # key hash
    fault: Fault | None
    sdk_compat: bool  # reached through the SDK's /api/paas/v4/v1/agents alias


Handler = Callable[[Call], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_response(state: SimState, status: int, code: str, message: str) -> Response:
    """The configured envelope: nested with a request_id like Z.ai's, or the flat one."""
    flat = state.config.error_envelope == "flat"
    return json_response(error_body(code, message, state.new_task_id(), flat=flat), status)


async def read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise RequestError("Invalid API parameter, the body is not valid JSON", "1210") from exc
