"""Value objects of the Z.ai client and the request side: validation and body building."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.languages import REASON_LANGS, SOURCE_LANGS, STRATEGIES, TARGET_LANGS
from service.zai.errors import ZaiInvalidRequest

AGENT_ID = "general_translation"
#: The tokenizer's default model: the first Z.ai documents for `POST /paas/v4/tokenizer`.
TOKENIZER_MODEL = "glm-4.6"
#: The formats Z.ai documents for purpose=agent uploads (zai-api.md §3); the tie-breaker between
#: Z.ai and bigmodel, whose longer list includes csv and xls.
UPLOAD_EXTENSIONS = frozenset(["pdf", "doc", "xlsx", "ppt", "txt", "jpg", "png"])


@dataclass(frozen=True)
class TranslateRequest:
    text: str
    target_lang: str
    source_lang: str = "auto"
    glossary: str | None = None
    strategy: str = "general"
    suggestion: str | None = None
    reason_lang: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    total_calls: int = 0


@dataclass(frozen=True)
class Translation:
    text: str
    finish_reason: str
    usage: Usage
    task_id: str | None
    async_id: str | None
    request_id: str
    attempts: int
    polls: int


@dataclass(frozen=True)
class PendingTask:
    """An accepted async translation; persist ``async_id`` and resume with ``ZaiClient.poll``."""

    async_id: str
    agent_id: str
    request_id: str
    attempts: int
    task_id: str | None = None


@dataclass(frozen=True)
class FileObject:
    id: str
    bytes: int
    filename: str
    purpose: str
    created_at: int


def validate(request: TranslateRequest) -> None:
    """Reject what Z.ai documents as invalid before spending an HTTP call on it. (Messages
    are built only for a failing check: this runs before every agent call.)"""
    r = request
    problems = []
    if not r.text.strip():
        problems.append("text must not be empty")
    if r.source_lang not in SOURCE_LANGS:
        problems.append(f"unknown source_lang {r.source_lang!r}")
    if r.target_lang not in TARGET_LANGS:
        problems.append(f"unknown target_lang {r.target_lang!r}")
    if r.strategy not in STRATEGIES:
        problems.append(f"unknown strategy {r.strategy!r}")
    if r.reason_lang is not None and r.reason_lang not in REASON_LANGS:
        problems.append(f"unknown reason_lang {r.reason_lang!r}")
    if r.glossary is not None and not r.glossary.strip():
        problems.append("glossary id must not be empty")
    if problems:
        raise ZaiInvalidRequest("; ".join(problems), request_id=r.request_id)


def agent_body(request: TranslateRequest, request_id: str) -> dict[str, Any]:
    """The ``POST /agents`` JSON for a translation; unset optional variables are omitted."""
    variables: dict[str, Any] = {
        "source_lang": request.source_lang,
        "target_lang": request.target_lang,
        "strategy": request.strategy,
    }
    if request.glossary is not None:
        variables["glossary"] = request.glossary
    config: dict[str, Any] = {}
    if request.suggestion is not None:
        config["general"] = {"suggestion": request.suggestion}
    if request.reason_lang is not None:
        config["cot"] = {"reason_lang": request.reason_lang}
    if config:
        variables["strategy_config"] = config
    return {
        "agent_id": AGENT_ID,
        "stream": False,
        "request_id": request_id,
        "messages": [{"role": "user", "content": [{"type": "text", "text": request.text}]}],
        "custom_variables": variables,
    }
