"""Fakes for ZaiClient tests over httpx.MockTransport: scripted replies, fake sleep and clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

API_KEY = "k3y-id.s3cr3t-VALUE-never-log"
AGENTS = "https://zai.test/api/v1"
FILES = "https://zai.test/api/paas/v4"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def ok_translation(text: str = "Hallo", **extra: Any) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "task-1",
            "agent_id": "general_translation",
            "status": "success",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "messages": [{"role": "assistant", "content": {"type": "text", "text": text}}],
                }
            ],
            "usage": {
                "prompt_tokens": 3,
                "completion_tokens": 2,
                "total_tokens": 5,
                "total_calls": 1,
            },
            **extra,
        },
    )


def error(
    status: int, code: str | None = None, message: str = "nope", **headers: str
) -> httpx.Response:
    body = {"error": {"code": code, "message": message}} if code else {}
    return httpx.Response(status, json=body, headers=headers)


def finish(reason: str) -> httpx.Response:
    return httpx.Response(
        200, json={"choices": [{"finish_reason": reason, "messages": [{"content": "part"}]}]}
    )


def pending(async_id: str = "A1") -> httpx.Response:
    return httpx.Response(
        200, json={"status": "pending", "agent_id": "general_translation", "async_id": async_id}
    )


@dataclass
class Upstream:
    """Scripted replies per route key ("POST /agents", ...); records every request."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, route: str, *replies: Reply) -> Upstream:
        self.script.setdefault(route, []).extend(replies)
        return self

    def calls(self, route: str) -> list[httpx.Request]:
        return [r for r in self.requests if _route(r) == route]

    def json(self, route: str) -> list[Any]:
        return [json.loads(r.content) for r in self.calls(route)]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.script.get(_route(request)) or []
        reply = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else error(404))
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply


def _route(request: httpx.Request) -> str:
    path = request.url.path.removeprefix("/api/v1").removeprefix("/api/paas/v4")
    if path.startswith("/files/"):
        path = "/files/{id}"
    return f"{request.method} {path}"


@dataclass
class FakeTime:
    """Fake sleep that advances a fake monotonic clock and records each wait."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now
