"""A scripted Truto for transport tests over httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN = "truto-api-token-never-log"
BASE = "https://truto.test"
ACCOUNT = "ia-1111"

TOOLS = [
    {"name": "create_a_z_ai_paas_file", "resource": "paas_files", "method": "create"},
    {"name": "create_a_z_ai_agent", "resource": "agents", "method": "create"},
    {"name": "create_a_z_ai_agents_async_result", "resource": "agents_async", "method": "create"},
    {"name": "create_a_z_ai_paas_tokenizer", "resource": "paas_tokenizer", "method": "create"},
]

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def remote(status: int, raw: object, **headers: str) -> httpx.Response:
    """A provider error as Truto forwards it."""
    body = {
        "statusCode": status,
        "error": "Remote Error",
        "message": "from Z.ai",
        "truto_is_remote_error": True,
        "raw_response": raw,
    }
    return httpx.Response(status, json=body, headers=headers)


def own(status: int, message: str = "nope", **headers: str) -> httpx.Response:
    """An error of Truto itself: the three guaranteed fields only."""
    return httpx.Response(
        status, json={"statusCode": status, "error": "Err", "message": message}, headers=headers
    )


@dataclass
class FakeTruto:
    """Replies scripted per path ("/proxy/agents", "tools", ...); records every request."""

    tools: Any = field(default_factory=lambda: list(TOOLS))
    script: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, path: str, *replies: Reply) -> FakeTruto:
        self.script.setdefault(path, []).extend(replies)
        return self

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if _key(r) == path]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = _key(request)
        queue = self.script.get(key)
        if queue:
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
        elif key == "tools":
            reply = httpx.Response(200, json=self.tools)
        else:
            reply = own(404, f"no script for {key}")
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply


def _key(request: httpx.Request) -> str:
    return "tools" if request.url.path.endswith("/tools") else request.url.path


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)
