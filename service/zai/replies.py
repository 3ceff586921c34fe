"""Pure parsing of Z.ai replies, tolerant of the shape variants the sources disagree on.

Agent replies (zai-api.md §6.3, §7, §11.3): the choice's text may sit under ``messages``
(list, or object) or ``message`` (object, or list); ``content`` may be an object with
``text``, a plain string, or a list of parts. When several assistant messages carry text,
the last one is the translation (multi-step strategies may emit intermediate messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from service.zai.errors import ZaiMalformedResponse, classify, finish_reason_error
from service.zai.models import AGENT_ID, FileObject, PendingTask, Translation, Usage

# Async task states that are neither done nor failed; unknown states also count as pending
# (the overall polling deadline bounds them).
_DONE = frozenset({"success", "succeeded", "completed"})
_FAILED = frozenset({"failed", "fail", "error"})


def decode_json(raw: bytes) -> object:
    """Decode a 2xx body; garbage from the server is a retryable upstream fault."""
    try:
        return orjson.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZaiMalformedResponse("Z.ai sent a body that is not JSON.") from exc


def parse_agent_reply(
    body: object, *, request_id: str, attempts: int, polls: int = 0
) -> Translation | PendingTask:
    """A ``POST /agents`` or ``/agents/async-result`` reply: a translation or a pending task."""
    reply = _mapping(body)
    status = reply.get("status")
    _raise_if_failed(reply)
    async_id = _str(reply.get("async_id"))
    if not reply.get("choices") and (async_id or status == "pending"):
        if not async_id:
            raise ZaiMalformedResponse("Z.ai reply is pending but has no async_id.")
        return PendingTask(
            async_id=async_id,
            agent_id=_str(reply.get("agent_id")) or AGENT_ID,
            request_id=request_id,
            attempts=attempts,
            task_id=_str(reply.get("id")),
        )
    if status is not None and status not in _DONE and not reply.get("choices"):
        raise ZaiMalformedResponse(f"Z.ai reply has status {status!r} and no choices.")
    return _translation(reply, request_id=request_id, attempts=attempts, polls=polls)


def parse_async_result(
    body: object, *, request_id: str, attempts: int, polls: int
) -> Translation | None:
    """An ``/agents/async-result`` reply: the translation, or None while still pending."""
    reply = _mapping(body)
    _raise_if_failed(reply)
    status = reply.get("status")
    if status not in _DONE and not reply.get("choices"):
        return None
    return _translation(reply, request_id=request_id, attempts=attempts, polls=polls)


def _raise_if_failed(reply: Mapping[str, Any]) -> None:
    if reply.get("error") or reply.get("status") in _FAILED:
        raise classify(None, reply, route="agents")


def _translation(
    reply: Mapping[str, Any], *, request_id: str, attempts: int, polls: int
) -> Translation:
    choice = _first_choice(reply)
    finish_reason = _str(choice.get("finish_reason"))
    if finish_reason != "stop":
        raise finish_reason_error(finish_reason)
    text = choice_text(choice)
    if not text:
        raise ZaiMalformedResponse("Z.ai reply finished with 'stop' but carries no text.")
    return Translation(
        text=text,
        finish_reason=finish_reason,
        usage=parse_usage(reply.get("usage")),
        task_id=_str(reply.get("id")),
        async_id=_str(reply.get("async_id")),
        request_id=request_id,
        attempts=attempts,
        polls=polls,
    )


def _first_choice(reply: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = reply.get("choices")
    if isinstance(choices, Mapping):
        return choices
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    raise ZaiMalformedResponse("Z.ai reply has no choices.")


def choice_text(choice: Mapping[str, Any]) -> str:
    """The translation text of one choice, whatever the message/content shape: `messages`
    first, then `message` (a reply may carry both, one of them null or empty)."""
    return _messages_text(choice.get("messages")) or _messages_text(choice.get("message"))


def _messages_text(raw: object) -> str:
    messages = raw if isinstance(raw, list) else [raw]
    texts = [content_text(m.get("content")) for m in messages if isinstance(m, Mapping)]
    return next((t for t in reversed(texts) if t), "")


def content_text(content: object) -> str:
    """Text of a ``content`` value: a string, a ``{type, text}`` object, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        kind, text = content.get("type", "text"), content.get("text")
        return text if kind == "text" and isinstance(text, str) else ""
    if isinstance(content, list):
        return "".join(content_text(part) for part in content)
    return ""


def parse_usage(raw: object) -> Usage:
    usage = raw if isinstance(raw, Mapping) else {}
    return Usage(
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        total_tokens=_int(usage.get("total_tokens")),
        total_calls=_int(usage.get("total_calls")),
    )


def parse_token_count(raw: object) -> int:
    """A tokenizer reply: `usage.prompt_tokens`, the count of the messages sent."""
    usage = _mapping(raw).get("usage")
    count = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ZaiMalformedResponse("Z.ai tokenizer reply has no usage.prompt_tokens.")
    return count


def parse_file(raw: object) -> FileObject:
    data = _mapping(raw)
    file_id = _str(data.get("id"))
    if not file_id:
        raise ZaiMalformedResponse("Z.ai file object has no id.")
    return FileObject(
        id=file_id,
        bytes=_int(data.get("bytes")),
        filename=_str(data.get("filename")) or "",
        purpose=_str(data.get("purpose")) or "",
        created_at=_int(data.get("created_at")),
    )


def parse_file_list(raw: object) -> tuple[list[FileObject], bool]:
    data = _mapping(raw)
    items = data.get("data")
    if not isinstance(items, list):
        raise ZaiMalformedResponse("Z.ai file list has no data array.")
    return [parse_file(item) for item in items], data.get("has_more") is True


def parse_deleted(raw: object) -> bool:
    return _mapping(raw).get("deleted") is True


def _mapping(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ZaiMalformedResponse("Z.ai reply is not a JSON object.")
    return body


def _str(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0
