"""Z.ai wire format: request validation and reply bodies (zai-api.md §6-§8). Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from service.languages import REASON_LANGS, SOURCE_LANGS, STRATEGIES, TARGET_LANGS
from service.sim.translate import Corruption, calls_for_strategy, count_tokens, fake_translate

AGENT_ID = "general_translation"
DEFAULT_TARGET_LANG = "zh-CN"  # Z.ai's documented default (ZOA)


class RequestError(ValueError):
    """A request the real API would reject; rendered as the canonical error envelope."""

    def __init__(self, message: str, code: str = "1214", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(frozen=True, kw_only=True)
class TranslationRequest:
    agent_id: str
    texts: tuple[str, ...]
    source_lang: str
    target_lang: str
    strategy: str
    glossary: str | None
    stream: bool


def parse_agent_request(body: object) -> TranslationRequest:
    if not isinstance(body, Mapping):
        raise RequestError("Invalid API parameter, request body must be a JSON object", "1210")
    if body.get("agent_id") != AGENT_ID:
        raise RequestError(f"agent_id is invalid: {body.get('agent_id')!r}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool | None):
        raise RequestError("stream must be a boolean")
    variables = body.get("custom_variables") or {}
    if not isinstance(variables, Mapping):
        raise RequestError("custom_variables must be an object")
    _check_strategy_config(variables.get("strategy_config"))
    return TranslationRequest(
        agent_id=AGENT_ID,
        texts=_texts(body.get("messages")),
        source_lang=_choice(variables, "source_lang", "auto", SOURCE_LANGS),
        target_lang=_choice(variables, "target_lang", DEFAULT_TARGET_LANG, TARGET_LANGS),
        strategy=_choice(variables, "strategy", "general", STRATEGIES),
        glossary=_glossary(variables.get("glossary")),
        stream=bool(stream),
    )


def _texts(messages: object) -> tuple[str, ...]:
    if not isinstance(messages, list) or not messages:
        raise RequestError("The messages parameter is illegal: a non-empty list is required")
    texts: list[str] = []
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") != "user":
            raise RequestError("The messages parameter is illegal: only role 'user' is supported")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise RequestError("The messages parameter is illegal: content must be a list")
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise RequestError(
                    "The messages parameter is illegal: only text content is supported"
                )
            if not isinstance(part.get("text"), str):
                raise RequestError("The messages parameter is illegal: text must be a string")
            texts.append(part["text"])
    return tuple(texts)


def _choice(variables: Mapping[str, Any], name: str, default: str, allowed: frozenset[str]) -> str:
    value = variables.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise RequestError(f"{name} is invalid: {value!r}")
    return str(value)


def _glossary(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RequestError("glossary must be a file id string")
    return value


def _check_strategy_config(config: object) -> None:
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise RequestError("strategy_config must be an object")
    cot = config.get("cot")
    if isinstance(cot, Mapping) and cot.get("reason_lang", "to") not in REASON_LANGS:
        raise RequestError(
            f"strategy_config.cot.reason_lang is invalid: {cot.get('reason_lang')!r}"
        )


#: The models Z.ai's Tokenizer page documents; any other is refused (as Z.ai may: a count for
#: a model it does not tokenize would mislead the budget).
TOKENIZER_MODELS = frozenset(["glm-4.6", "glm-4.6v", "glm-4.5"])
_TOKENIZER_ROLES = frozenset(["system", "user", "assistant", "tool"])


def parse_tokenizer_request(body: object) -> tuple[str, ...]:
    """The message texts of a `POST /paas/v4/tokenizer` body: `model` (a documented one) and
    `messages` (`{role, content}`, content a string or text parts), not only system or
    assistant messages (Z.ai's rule)."""
    if not isinstance(body, Mapping):
        raise RequestError("Invalid API parameter, request body must be a JSON object", "1210")
    if body.get("model") not in TOKENIZER_MODELS:
        raise RequestError(f"model is invalid: {body.get('model')!r}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("The messages parameter is illegal: a non-empty list is required")
    texts: list[str] = []
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") not in _TOKENIZER_ROLES:
            raise RequestError("The messages parameter is illegal: unknown role")
        texts.append(_content_text(message.get("content")))
    if all(m["role"] in ("system", "assistant") for m in messages):
        raise RequestError("The messages parameter is illegal: only system or assistant messages")
    return tuple(texts)


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return "".join(p["text"] for p in content)
    raise RequestError("The messages parameter is illegal: content must be text")


def tokenizer_reply(
    texts: Sequence[str], *, task_id: str, request_id: str, created: int
) -> dict[str, Any]:
    """The tokenizer's reply (Z.ai's docs): `usage.prompt_tokens` is the same deterministic
    count the agent reports as its prompt tokens for these texts (`count_tokens`)."""
    return {
        "id": task_id,
        "created": created,
        "request_id": request_id,
        "usage": {"prompt_tokens": sum(count_tokens(t) for t in texts)},
    }


@dataclass(frozen=True)
class SentCall:
    """What an agents body asked for, as sent: its target language and its first text."""

    target_lang: str = ""
    text: str = ""


def sent_call(raw: bytes) -> SentCall:
    """`custom_variables.target_lang` and the first text part of an agents body; "" for what
    is absent or unreadable.

    Lenient on purpose: it is read for counting before the body is validated or a fault drawn.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return SentCall()
    if not isinstance(body, dict):
        return SentCall()
    variables = body.get("custom_variables")
    lang = variables.get("target_lang") if isinstance(variables, dict) else None
    return SentCall(lang if isinstance(lang, str) else "", _first_text(body.get("messages")))


def _first_text(messages: object) -> str:
    first = messages[0] if isinstance(messages, list) and messages else None
    content = first.get("content") if isinstance(first, dict) else None
    part = content[0] if isinstance(content, list) and content else None
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) else ""


def sent_target_lang(raw: bytes) -> str:
    """`custom_variables.target_lang` of an agents body as sent; "" when absent or unreadable."""
    return sent_call(raw).target_lang


def parse_async_result_request(body: object) -> tuple[str, str]:
    """(agent_id, async_id). The JAVA SDK's `task_id` is accepted as an alias of async_id."""
    if not isinstance(body, Mapping):
        raise RequestError("Invalid API parameter, request body must be a JSON object", "1210")
    async_id = body.get("async_id") or body.get("task_id")
    if not isinstance(async_id, str) or not async_id:
        raise RequestError("async_id is required")
    agent_id = body.get("agent_id")
    return (agent_id if isinstance(agent_id, str) else "", async_id)


def error_body(
    code: str, message: str, request_id: str | None = None, *, flat: bool = False
) -> dict[str, Any]:
    """The nested envelope seen in real replies, or the flat one of Z.ai's OpenAPI `Error`
    schema (an int32 `code`, no request id)."""
    if flat:
        return {"code": int(code) if code.isdigit() else code, "message": message}
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


@dataclass(frozen=True, kw_only=True)
class Translation:
    """The outcome of one translation call, before it is put on the wire."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    total_calls: int


def translate_request(
    request: TranslationRequest,
    terms: Sequence[tuple[str, str]],
    finish_reason: str = "stop",
    corruption: Corruption = Corruption.none,
) -> Translation:
    """Fake-translate every text part; parts are joined by newlines into one assistant message.

    `sensitive`/`network_error` replies carry no text, `length` keeps the first half;
    `corruption` mangles placeholders or skips the glossary (content faults).
    """
    lang = request.target_lang
    text = "\n".join(fake_translate(t, lang, terms, corruption) for t in request.texts)
    if finish_reason in ("sensitive", "network_error"):
        text = ""
    elif finish_reason == "length":
        text = text[: len(text) // 2]
    return Translation(
        text=text,
        finish_reason=finish_reason,
        prompt_tokens=sum(count_tokens(t) for t in request.texts),
        completion_tokens=count_tokens(text),
        total_calls=calls_for_strategy(request.strategy),
    )


def usage(result: Translation) -> dict[str, int]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
        "total_calls": result.total_calls,
    }


def translation_reply(
    result: Translation, *, task_id: str, async_id: str | None = None, sdk_compat: bool = False
) -> dict[str, Any]:
    """The §6.3 success body; `sdk_compat` adds `choices[].message` (an object the PY SDK reads)."""
    message = {"role": "assistant", "content": {"type": "text", "text": result.text}}
    choice: dict[str, Any] = {
        "index": 0,
        "finish_reason": result.finish_reason,
        "messages": [message],
    }
    if sdk_compat:
        choice["message"] = message
    return _reply(result, choice, task_id, async_id)


def async_result_reply(
    result: Translation,
    *,
    task_id: str,
    async_id: str,
    field: str = "message",
    sdk_compat: bool = False,
) -> dict[str, Any]:
    """A finished async task. `field="message"`: Z.ai's OpenAPI shape, `choices[].message` an
    array of `{role, content: [parts]}`; `"messages"`: bigmodel's, the §6.3 choice."""
    if field == "messages":
        return translation_reply(result, task_id=task_id, async_id=async_id, sdk_compat=sdk_compat)
    message = {"role": "assistant", "content": [_text(result.text)]}
    choice = {"index": 0, "finish_reason": result.finish_reason, "message": [message]}
    return _reply(result, choice, task_id, async_id)


def _reply(
    result: Translation, choice: dict[str, Any], task_id: str, async_id: str | None
) -> dict[str, Any]:
    reply: dict[str, Any] = {"id": task_id, "agent_id": AGENT_ID}
    if async_id:
        reply["async_id"] = async_id
    reply.update(status="success", choices=[choice], usage=usage(result))
    return reply


def pending_reply(async_id: str, agent_id: str = AGENT_ID) -> dict[str, Any]:
    return {"status": "pending", "agent_id": agent_id, "async_id": async_id}


def failed_reply(async_id: str, error: dict[str, str], agent_id: str = AGENT_ID) -> dict[str, Any]:
    return {"status": "failed", "agent_id": agent_id, "async_id": async_id, "error": error}


def network_error(error_id: str) -> dict[str, str]:
    """The error of a failed async task or stream: code 1234 as in zai-api.md §7's example."""
    message = f"Network error, error id: {error_id}, please contact customer service"
    return {"code": "1234", "message": message}


def stream_chunks(result: Translation, *, task_id: str) -> list[dict[str, Any]]:
    """SSE chunks (§6.4): incremental `delta.content` text objects, word by word; the last chunk
    carries finish_reason and usage."""
    words = result.text.split(" ")
    pieces = [w if i == 0 else f" {w}" for i, w in enumerate(words)] if result.text else []
    chunks = [_chunk(task_id, {"role": "assistant", "content": _text(p)}, None) for p in pieces]
    last = _chunk(task_id, {"role": "assistant", "content": _text("")}, result.finish_reason)
    last["usage"] = usage(result)
    return [*chunks, last]


def _chunk(task_id: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": task_id,
        "agent_id": AGENT_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def file_object(
    *, file_id: str, size: int, filename: str, purpose: str, created_at: int
) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "filename": filename,
        "purpose": purpose,
        "created_at": created_at,
    }
