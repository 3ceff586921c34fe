"""Value objects of the Z.ai client and the request side: validation and body building.

They extend the pipeline's own (`service.pipeline.ports.upstream`) with what is Z.ai's: a call
the pipeline makes is an `UpstreamRequest` (a `TranslateRequest` without the extras), and what
the client returns is the pipeline's type as it is, with Z.ai's ids beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.languages import REASON_LANGS, SOURCE_LANGS, STRATEGIES, TARGET_LANGS
from service.pipeline.ports.upstream import (
    TokenUsage,
    UpstreamFile,
    UpstreamRequest,
    UpstreamTask,
    UpstreamTranslation,
)
from service.zai.errors import ZaiInvalidRequest

AGENT_ID = "general_translation"
#: The tokenizer's default model: the first Z.ai documents for `POST /paas/v4/tokenizer`.
TOKENIZER_MODEL = "glm-4.6"
#: The formats Z.ai documents for purpose=agent uploads (zai-api.md §3); the tie-breaker between
#: Z.ai and bigmodel, whose longer list includes csv and xls.
UPLOAD_EXTENSIONS = frozenset(["pdf", "doc", "xlsx", "ppt", "txt", "jpg", "png"])


@dataclass(frozen=True)
class TranslateRequest(UpstreamRequest):
    """A call as the pipeline asks it (`UpstreamRequest`), and what only Z.ai's agent takes."""

    reason_lang: str | None = None  # the "cot" strategy's reasoning language
    request_id: str | None = None  # the body's request_id (one is made when None)


@dataclass(frozen=True)
class Usage(TokenUsage):
    total_calls: int = 0


@dataclass(frozen=True)
class Translation(UpstreamTranslation):
    finish_reason: str = "stop"
    task_id: str | None = None
    async_id: str | None = None
    request_id: str = ""


@dataclass(frozen=True)
class PendingTask(UpstreamTask):
    """An accepted async translation; persist ``async_id`` and resume with ``ZaiClient.poll``."""

    agent_id: str = AGENT_ID
    request_id: str = ""
    attempts: int = 0
    task_id: str | None = None


@dataclass(frozen=True)
class FileObject(UpstreamFile):
    bytes: int = 0
    filename: str = ""
    purpose: str = ""
    created_at: int = 0


def validate(request: UpstreamRequest) -> None:
    """Reject what Z.ai documents as invalid before spending an HTTP call on it. (Messages
    are built only for a failing check: this runs before every agent call.)"""
    r = request
    extra = request if isinstance(request, TranslateRequest) else _PLAIN
    problems = []
    if not r.text.strip():
        problems.append("text must not be empty")
    if r.source_lang not in SOURCE_LANGS:
        problems.append(f"unknown source_lang {r.source_lang!r}")
    if r.target_lang not in TARGET_LANGS:
        problems.append(f"unknown target_lang {r.target_lang!r}")
    if r.strategy not in STRATEGIES:
        problems.append(f"unknown strategy {r.strategy!r}")
    if extra.reason_lang is not None and extra.reason_lang not in REASON_LANGS:
        problems.append(f"unknown reason_lang {extra.reason_lang!r}")
    if r.glossary is not None and not r.glossary.strip():
        problems.append("glossary id must not be empty")
    if problems:
        raise ZaiInvalidRequest("; ".join(problems), request_id=extra.request_id)


def agent_body(request: UpstreamRequest, request_id: str) -> dict[str, Any]:
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
    reason_lang = request.reason_lang if isinstance(request, TranslateRequest) else None
    if reason_lang is not None:
        config["cot"] = {"reason_lang": reason_lang}
    if config:
        variables["strategy_config"] = config
    return {
        "agent_id": AGENT_ID,
        "stream": False,
        "request_id": request_id,
        "messages": [{"role": "user", "content": [{"type": "text", "text": request.text}]}],
        "custom_variables": variables,
    }


_PLAIN = TranslateRequest("", "")  # the extras' defaults, for a plain UpstreamRequest
