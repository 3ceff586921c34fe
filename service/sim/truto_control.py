"""The `/_truto/*` control API of the Truto simulator (no auth, JSON in and out): accounts,
reconnects, faults, config, counters. Tests and drills drive the simulator through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from service.sim.control import ControlError, error, object_body
from service.sim.http import json_response
from service.sim.truto_state import TRUTO_FAULTS, Account, TrutoState

Handler = Callable[[TrutoState, dict[str, Any], str], Awaitable[Any]]


async def handle(state: TrutoState, method: str, path: str, request: Request) -> Response:
    route, _, account_id = path.partition("/accounts/")
    if account_id:
        account_id, _, action = account_id.partition("/")
        key = (method, f"/_truto/accounts/{{id}}/{action}".rstrip("/"))
    else:
        key = (method, route)
    handler = _ROUTES.get(key)
    if handler is None:
        return error(404, f"no control route {method} {path}")
    try:
        return json_response(await handler(state, await object_body(request), account_id))
    except (orjson.JSONDecodeError, ControlError, ValidationError) as exc:
        return error(400, str(exc))
    except KeyError as exc:
        return error(404, f"unknown integrated account {exc}")


async def counters(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    return state.snapshot()


async def reset(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    state.reset()
    return {"reset": True}


async def get_config(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    return state.config.public()


async def set_config(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    state.config = state.config.updated(body)
    return state.config.public()


async def list_accounts(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    return [a.public() for a in state.accounts.values()]


async def put_account(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    """Create or change an integrated account: `{id, zai_key, sandbox?, blocked?}`."""
    account_id, zai_key = body.get("id"), body.get("zai_key")
    if not isinstance(account_id, str) or not account_id:
        raise ControlError("id must be a non-empty string")
    account = state.accounts.get(account_id)
    if account is None:
        if not isinstance(zai_key, str) or not zai_key:
            raise ControlError("zai_key is required for a new account")
        account = state.accounts[account_id] = Account(account_id, zai_key)
    elif isinstance(zai_key, str) and zai_key:
        account.zai_key = zai_key
    for flag in ("sandbox", "blocked"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise ControlError(f"{flag} must be a boolean")
            setattr(account, flag, body[flag])
    return account.public()


async def reconnect(state: TrutoState, body: dict[str, Any], account_id: str) -> Any:
    """The end user went through the connect flow again: active, optionally with a new key."""
    account = state.accounts[account_id]
    zai_key = body.get("zai_key")
    if zai_key is not None:
        if not isinstance(zai_key, str) or not zai_key:
            raise ControlError("zai_key must be a non-empty string")
        account.zai_key = zai_key
    account.status, account.last_error = "active", None
    return account.public()


async def set_faults(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    """Faults for the next proxy calls, one per call: ok, 502, 504, remote_401, blocked."""
    script = body.get("script") or []
    if not isinstance(script, list) or not all(s in TRUTO_FAULTS for s in script):
        raise ControlError(f"script must list faults among {sorted(TRUTO_FAULTS)}")
    state.script.clear()
    state.script.extend(script)
    return {"script": list(state.script)}


async def recent_requests(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    return list(state.requests)


async def health(state: TrutoState, body: dict[str, Any], _: str) -> Any:
    return {"ok": True}


_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/_truto/counters"): counters,
    ("POST", "/_truto/reset"): reset,
    ("GET", "/_truto/config"): get_config,
    ("POST", "/_truto/config"): set_config,
    ("GET", "/_truto/accounts"): list_accounts,
    ("POST", "/_truto/accounts"): put_account,
    ("POST", "/_truto/accounts/{id}/reconnect"): reconnect,
    ("POST", "/_truto/faults"): set_faults,
    ("GET", "/_truto/requests"): recent_requests,
    ("GET", "/_truto/health"): health,
}
