"""The Truto simulator's model of Truto (shared/truto.md): configuration, the Z.ai integration's
tools, error envelopes, rate-limit windows. Pure: no I/O.

Confirmed by Truto's material: the proxy URL shape, `integrated_account_id`, the error envelope
`{statusCode, error, message}` plus `truto_is_remote_error`, `raw_response` and the provider's
headers for provider errors, `needs_reauth` after a remote 401, 503 for a blocked account, 405
for writes on a sandbox account, 429 with `Retry-After: 10` at 50 calls per 10 s per account
and 500 per token, `truto_body_passthrough`, `Idempotency-Key`, 14 Z.ai tools of which four
names are known. Inferred (our choices, docs/truto.md): the resource names, the other ten tool
names, that only successful replies are replayed for a reused Idempotency-Key, and that
multipart without passthrough is refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TrutoSimConfig(BaseModel):
    """Every knob of the Truto simulator; all can be changed at run time (`/_truto/config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zai_base_url: str = "http://127.0.0.1:8765"  # the Z.ai simulator behind it
    tokens: tuple[str, ...] = ()  # accepted API tokens; empty: any non-empty token
    account_limit: int = Field(default=50, ge=1)  # proxy calls per window per account
    token_limit: int = Field(default=500, ge=1)  # calls per window per token
    window_seconds: float = Field(default=10.0, gt=0)
    retry_after: int = Field(default=10, ge=0)  # Retry-After of its 429s
    upstream_timeout: float = Field(default=30.0, gt=0)  # Truto's own (TS SDK's default)

    def updated(self, patch: dict[str, Any]) -> TrutoSimConfig:
        return TrutoSimConfig.model_validate({**self.model_dump(), **patch})

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"tokens"})
        data["tokens_count"] = len(self.tokens)
        return data


@dataclass(frozen=True)
class Tool:
    name: str
    resource: str
    method: str  # create | list | get | delete | <custom>
    upstream: str  # Z.ai path (below the Z.ai simulator's root)
    description: str


def _tool(
    name: str, resource: str, upstream: str, description: str, method: str = "create"
) -> Tool:
    return Tool(name, resource, method, upstream, description)


#: Truto's Z.ai integration: 14 tools, one per operation Z.ai documents. The first four names
#: are Truto's (integration page); the rest follow its naming rule. None lists or deletes files.
ZAI_TOOLS: tuple[Tool, ...] = (
    _tool("create_a_z_ai_paas_file", "paas_files", "/api/paas/v4/files", "Upload a file"),
    _tool("create_a_z_ai_agent", "agents", "/api/v1/agents", "Call an agent"),
    _tool(
        "create_a_z_ai_agents_async_result",
        "agents_async_result",
        "/api/v1/agents/async-result",
        "Get the result of an async agent call",
    ),
    _tool("create_a_z_ai_paas_tokenizer", "paas_tokenizer", "/api/paas/v4/tokenizer", "Count"),
    _tool(
        "create_a_z_ai_paas_chat_completion",
        "paas_chat_completions",
        "/api/paas/v4/chat/completions",
        "Chat completion",
    ),
    _tool(
        "create_a_z_ai_paas_async_chat_completion",
        "paas_async_chat_completions",
        "/api/paas/v4/async/chat/completions",
        "Async chat completion",
    ),
    _tool(
        "get_single_z_ai_paas_async_result_by_id",
        "paas_async_results",
        "/api/paas/v4/async-result",
        "Result of an async task",
        "get",
    ),
    _tool("create_a_z_ai_paas_image", "paas_images", "/api/paas/v4/images/generations", "Image"),
    _tool("create_a_z_ai_paas_video", "paas_videos", "/api/paas/v4/videos/generations", "Video"),
    _tool(
        "create_a_z_ai_paas_audio_transcription",
        "paas_audio_transcriptions",
        "/api/paas/v4/audio/transcriptions",
        "Transcribe audio",
    ),
    _tool("create_a_z_ai_paas_web_search", "paas_web_search", "/api/paas/v4/web_search", "Search"),
    _tool("create_a_z_ai_paas_web_reader", "paas_web_reader", "/api/paas/v4/reader", "Read a page"),
    _tool(
        "create_a_z_ai_paas_layout_parsing",
        "paas_layout_parsing",
        "/api/paas/v4/layout_parsing",
        "Parse a document's layout",
    ),
    _tool(
        "create_a_z_ai_agents_conversation",
        "agents_conversation",
        "/api/v1/agents/conversation",
        "Continue an agent conversation",
    ),
)
_VERBS = {"create": "POST", "list": "GET", "get": "GET", "update": "PATCH", "delete": "DELETE"}


def tools_reply() -> list[dict[str, Any]]:
    """`GET /integrated-account/{id}/tools` (the TS SDK's fields)."""
    return [
        {
            "name": t.name,
            "resource": t.resource,
            "method": t.method,
            "description": t.description,
            "query_schema": {"type": "object", "properties": {}},
            "body_schema": {"type": "object", "properties": {}},
            "required": [],
        }
        for t in ZAI_TOOLS
    ]


def find_tool(verb: str, resource: str, rest: str) -> tuple[Tool, str | None] | None:
    """The tool a proxy call names, and the item id (`get`/`delete`), from `/proxy/{resource}/
    {rest}`: `rest` is an id for get/update/delete, a method name for custom calls."""
    for tool in ZAI_TOOLS:
        if tool.resource != resource:
            continue
        if tool.method in ("get", "update", "delete") and rest and _VERBS[tool.method] == verb:
            return tool, rest
        if tool.method in ("create", "list") and not rest and _VERBS[tool.method] == verb:
            return tool, None
        if tool.method not in _VERBS and rest == tool.method and verb == "POST":
            return tool, None
    return None


def truto_error(status: int, message: str) -> dict[str, Any]:
    """Truto's own error: the three guaranteed fields."""
    return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}


def remote_error(status: int, raw: object) -> dict[str, Any]:
    """A provider error as Truto forwards it; `message` extracted from the provider's body."""
    body = truto_error(status, _provider_message(raw))
    body.update(truto_is_remote_error=True, raw_response=raw)
    return body


def _provider_message(raw: object) -> str:
    if isinstance(raw, Mapping):
        nested = raw.get("error")
        if isinstance(nested, Mapping) and isinstance(nested.get("message"), str):
            return str(nested["message"])
        if isinstance(raw.get("message"), str):
            return str(raw["message"])
    return raw if isinstance(raw, str) else ""


class SlidingLog:
    """Calls accepted in the last `seconds`: the server's side of a rate limit."""

    def __init__(self) -> None:
        self._at: deque[float] = deque()

    def count(self, now: float, seconds: float) -> int:
        while self._at and self._at[0] <= now - seconds:
            self._at.popleft()
        return len(self._at)

    def add(self, now: float) -> None:
        self._at.append(now)

    def reset_in(self, now: float, seconds: float) -> float:
        """Seconds until the oldest call leaves the window."""
        return max(0.0, self._at[0] + seconds - now) if self._at else 0.0


def secrets_in(secrets: frozenset[str], *parts: bytes | str) -> int:
    """How many of `secrets` appear anywhere in what a client sent."""
    blob = b"\x00".join(p.encode() if isinstance(p, str) else p for p in parts)
    return sum(1 for s in secrets if s and s.encode() in blob)
