"""Reply parsing across the shape variants the Z.ai sources disagree on."""

from __future__ import annotations

from typing import Any

import pytest

from service.zai import errors as e
from service.zai.models import PendingTask, Translation, Usage
from service.zai.replies import (
    choice_text,
    content_text,
    decode_json,
    parse_agent_reply,
    parse_async_result,
    parse_deleted,
    parse_file,
    parse_file_list,
    parse_usage,
)

USAGE = {"prompt_tokens": 14, "completion_tokens": 12, "total_tokens": 26, "total_calls": 1}


def _reply(choice: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "20250301120501a1b2",
        "agent_id": "general_translation",
        "status": "success",
        "choices": [{"index": 0, **choice}],
        "usage": USAGE,
        **extra,
    }


def _parse(body: object) -> Translation | PendingTask:
    return parse_agent_reply(body, request_id="rid", attempts=1)


TEXT = "Öffnen Sie das Ventil langsam."

SHAPES = {
    "messages list, content object": {
        "messages": [{"role": "assistant", "content": {"type": "text", "text": TEXT}}]
    },
    "messages object": {
        "messages": {"role": "assistant", "content": {"type": "text", "text": TEXT}}
    },
    "message object": {"message": {"role": "assistant", "content": {"type": "text", "text": TEXT}}},
    "message list": {
        "message": [{"role": "assistant", "content": [{"type": "text", "text": TEXT}]}]
    },
    "content string": {"messages": [{"role": "assistant", "content": TEXT}]},
    "message content string": {"message": {"role": "assistant", "content": TEXT}},
    "content parts": {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Öffnen Sie "},
                    {"text": "das Ventil langsam."},
                ],
            }
        ]
    },
    "content parts of strings": {
        "messages": [{"role": "assistant", "content": ["Öffnen Sie ", "das Ventil langsam."]}]
    },
    # Seen in replies that carry both keys: the null (or empty) one must not hide the good one.
    "messages null beside a good message": {
        "messages": None,
        "message": {"role": "assistant", "content": {"type": "text", "text": TEXT}},
    },
    "messages empty beside a good message": {
        "messages": [],
        "message": [{"role": "assistant", "content": [{"type": "text", "text": TEXT}]}],
    },
    "messages with text beside another message": {
        "messages": [{"role": "assistant", "content": TEXT}],
        "message": {"role": "assistant", "content": "not this one"},
    },
    "last non-empty message wins": {
        "messages": [
            {"role": "assistant", "content": "thinking..."},
            {"role": "assistant", "content": {"type": "text", "text": TEXT}},
            {"role": "assistant", "content": ""},
        ]
    },
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_sync_reply_shapes(shape: str) -> None:
    result = _parse(_reply({"finish_reason": "stop", **SHAPES[shape]}))
    assert isinstance(result, Translation)
    assert result.text == TEXT
    assert result.finish_reason == "stop"
    assert result.usage == Usage(14, 12, 26, 1)
    assert result.task_id == "20250301120501a1b2"
    assert (result.request_id, result.attempts, result.polls) == ("rid", 1, 0)
    assert result.async_id is None


def test_choices_as_single_object() -> None:
    body = _reply({})
    body["choices"] = {"finish_reason": "stop", "messages": [{"content": TEXT}]}
    result = _parse(body)
    assert isinstance(result, Translation)
    assert result.text == TEXT


def test_reply_without_status_or_usage() -> None:
    body = {"choices": [{"finish_reason": "stop", "messages": [{"content": TEXT}]}]}
    result = _parse(body)
    assert isinstance(result, Translation)
    assert result.usage == Usage()
    assert result.task_id is None


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        ("sensitive", e.ZaiContentFiltered),
        ("length", e.ZaiTruncated),
        ("network_error", e.ZaiInferenceFailed),
        ("tool_calls", e.ZaiInferenceFailed),
        (None, e.ZaiInferenceFailed),
    ],
)
def test_only_stop_is_complete(reason: str | None, cls: type[e.ZaiError]) -> None:
    choice = {"finish_reason": reason, "messages": [{"content": "partial"}]}
    with pytest.raises(cls) as info:
        _parse(_reply(choice))
    assert info.value.finish_reason == reason


def test_stop_without_text_is_malformed() -> None:
    with pytest.raises(e.ZaiMalformedResponse):
        _parse(_reply({"finish_reason": "stop", "messages": [{"content": {"type": "text"}}]}))


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"status": "success"},
        {"choices": []},
        {"choices": ["x"]},
        {"status": "weird", "id": "x"},
    ],
)
def test_malformed_replies(body: object) -> None:
    with pytest.raises(e.ZaiMalformedResponse):
        _parse(body)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "pending", "agent_id": "general_translation", "async_id": "A1"},
        {"agent_id": "general_translation", "async_id": "A1"},
        {"status": "processing", "async_id": "A1", "id": "task-9"},
    ],
)
def test_async_accept_is_pending(body: dict[str, Any]) -> None:
    result = _parse(body)
    assert isinstance(result, PendingTask)
    assert result.async_id == "A1"
    assert result.agent_id == "general_translation"
    assert (result.request_id, result.attempts) == ("rid", 1)


def test_pending_without_async_id_is_malformed() -> None:
    with pytest.raises(e.ZaiMalformedResponse):
        _parse({"status": "pending"})


def test_sync_reply_with_async_id_and_choices_is_a_translation() -> None:
    body = _reply({"finish_reason": "stop", "messages": [{"content": TEXT}]}, async_id="A1")
    result = _parse(body)
    assert isinstance(result, Translation)
    assert result.async_id == "A1"


@pytest.mark.parametrize(
    ("body", "cls", "retryable"),
    [
        ({"status": "failed", "error": {"code": "1234", "message": "net"}}, e.ZaiServerError, True),
        (
            {"status": "failed", "error": {"code": "1301", "message": "x"}},
            e.ZaiContentFiltered,
            False,
        ),
        ({"status": "failed", "error": {"code": "1302"}}, e.ZaiRateLimited, True),
        ({"status": "failed"}, e.ZaiServerError, False),
        # Whether a 1214 is about a file only the request knows (test_client.py).
        ({"error": {"code": "1214", "message": "glossary unknown"}}, e.ZaiBadRequest, False),
    ],
)
def test_failed_replies_are_classified(
    body: dict[str, Any], cls: type[e.ZaiError], retryable: bool
) -> None:
    for parse in (_parse, _async):
        with pytest.raises(cls) as info:
            parse(body)
        assert info.value.retryable is retryable


def _async(body: object) -> Translation | None:
    return parse_async_result(body, request_id="rid", attempts=0, polls=3)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "pending", "async_id": "A1"},
        {"status": "processing"},
        {"async_id": "A1"},
    ],
)
def test_async_result_pending(body: dict[str, Any]) -> None:
    assert _async(body) is None


@pytest.mark.parametrize("shape", list(SHAPES))
def test_async_result_success_shapes(shape: str) -> None:
    body = {
        "status": "success",
        "async_id": "A1",
        "choices": [{"finish_reason": "stop", **SHAPES[shape]}],
    }
    result = _async(body)
    assert result is not None
    assert (result.text, result.async_id, result.polls) == (TEXT, "A1", 3)


def test_async_result_success_with_length_is_truncated() -> None:
    body = {
        "status": "success",
        "choices": [{"finish_reason": "length", "messages": [{"content": "x"}]}],
    }
    with pytest.raises(e.ZaiTruncated):
        _async(body)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        ({"type": "text", "text": "obj"}, "obj"),
        ({"text": "untyped"}, "untyped"),
        ({"type": "file_url", "file_url": "https://x"}, ""),
        ([{"type": "text", "text": "a"}, {"type": "file_url"}, "b"], "ab"),
        (None, ""),
        (42, ""),
        ({"type": "text", "text": 3}, ""),
    ],
)
def test_content_text(content: object, text: str) -> None:
    assert content_text(content) == text


def test_choice_text_ignores_non_mapping_messages() -> None:
    assert choice_text({"messages": ["junk", None, {"content": "ok"}]}) == "ok"
    assert choice_text({}) == ""


@pytest.mark.parametrize(
    ("raw", "usage"),
    [
        (None, Usage()),
        ({}, Usage()),
        ({"total_tokens": 250}, Usage(total_tokens=250)),
        ({"prompt_tokens": "7", "completion_tokens": 2.0, "total_calls": True}, Usage(7, 2, 0, 0)),
    ],
)
def test_parse_usage(raw: object, usage: Usage) -> None:
    assert parse_usage(raw) == usage


def test_decode_json() -> None:
    assert decode_json(b'{"a": 1}') == {"a": 1}
    assert decode_json(b"  ") is None
    for raw in (b'{"a": ', b"<html>", b"\xff\xfe"):
        with pytest.raises(e.ZaiMalformedResponse) as info:
            decode_json(raw)
        assert info.value.retryable


FILE = {
    "id": "file-20250301120000123-ab12c",
    "object": "file",
    "bytes": 2048,
    "filename": "glossary_en_de.xlsx",
    "purpose": "agent",
    "created_at": 1740830400,
}


def test_parse_file() -> None:
    f = parse_file(FILE)
    assert (f.id, f.bytes, f.filename, f.purpose, f.created_at) == (
        "file-20250301120000123-ab12c",
        2048,
        "glossary_en_de.xlsx",
        "agent",
        1740830400,
    )


def test_parse_file_tolerates_missing_optional_fields() -> None:
    f = parse_file({"id": "file-1"})
    assert (f.bytes, f.filename, f.purpose, f.created_at) == (0, "", "", 0)


@pytest.mark.parametrize("raw", [{}, {"id": ""}, None, []])
def test_parse_file_needs_an_id(raw: object) -> None:
    with pytest.raises(e.ZaiMalformedResponse):
        parse_file(raw)


def test_parse_file_list() -> None:
    files, more = parse_file_list({"object": "list", "has_more": True, "data": [FILE, FILE]})
    assert [f.id for f in files] == [FILE["id"]] * 2
    assert more is True
    assert parse_file_list({"data": []}) == ([], False)
    with pytest.raises(e.ZaiMalformedResponse):
        parse_file_list({"object": "list"})


def test_parse_deleted() -> None:
    assert parse_deleted({"id": "f", "object": "file", "deleted": True}) is True
    assert parse_deleted({"deleted": False}) is False
    assert parse_deleted({"deleted": "true"}) is False
