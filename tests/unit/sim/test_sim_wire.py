from __future__ import annotations

from typing import Any

import pytest

from service.sim.wire import (
    RequestError,
    Translation,
    error_body,
    failed_reply,
    network_error,
    parse_agent_request,
    parse_async_result_request,
    pending_reply,
    stream_chunks,
    translate_request,
    translation_reply,
)


def body(text: str = "Open the valve", **variables: Any) -> dict[str, Any]:
    return {
        "agent_id": "general_translation",
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "custom_variables": variables,
    }


def test_defaults_follow_the_docs() -> None:
    request = parse_agent_request(body())
    assert (request.source_lang, request.target_lang, request.strategy) == (
        "auto",
        "zh-CN",
        "general",
    )
    assert (request.glossary, request.stream, request.texts) == (None, False, ("Open the valve",))


def test_all_variables() -> None:
    request = parse_agent_request(
        body(
            source_lang="en",
            target_lang="en-GB",
            strategy="cot",
            glossary="file-1",
            strategy_config={"cot": {"reason_lang": "from"}},
        )
        | {"stream": True}
    )
    assert (request.source_lang, request.target_lang, request.strategy) == ("en", "en-GB", "cot")
    assert (request.glossary, request.stream) == ("file-1", True)


def test_several_messages_and_parts_are_all_translated() -> None:
    data = body("a")
    data["messages"].append(
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]}
    )
    assert parse_agent_request(data).texts == ("a", "b", "c")


def invalid(**changes: Any) -> dict[str, Any]:
    return body() | changes


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1, 2], "JSON object"),
        (invalid(agent_id="glm-4"), "agent_id"),
        ({"messages": body()["messages"]}, "agent_id"),
        (invalid(messages=[]), "messages"),
        (invalid(messages="hi"), "messages"),
        (
            invalid(messages=[{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]),
            "messages",
        ),
        (invalid(messages=[{"role": "user", "content": "plain string"}]), "messages"),
        (invalid(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), "messages"),
        (
            invalid(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
            "messages",
        ),
        (body(source_lang="xx"), "source_lang"),
        (body(target_lang="auto"), "target_lang"),
        (body(target_lang="zh"), "target_lang"),
        (body(strategy="fast"), "strategy"),
        (body(glossary=12), "glossary"),
        (body(strategy_config={"cot": {"reason_lang": "both"}}), "reason_lang"),
        (body(strategy_config="x"), "strategy_config"),
        (invalid(custom_variables="x"), "custom_variables"),
        (invalid(stream="yes"), "stream"),
    ],
)
def test_invalid_requests_are_400_with_a_business_code(data: Any, field: str) -> None:
    with pytest.raises(RequestError, match=field) as caught:
        parse_agent_request(data)
    assert caught.value.status == 400 and caught.value.code in {"1210", "1214"}


def test_async_result_request() -> None:
    assert parse_async_result_request({"agent_id": "a", "async_id": "x"}) == ("a", "x")
    assert parse_async_result_request({"task_id": "y"}) == ("", "y")
    with pytest.raises(RequestError, match="async_id"):
        parse_async_result_request({"agent_id": "a"})


def test_translation_reply_shape_matches_section_6_3() -> None:
    result = translate_request(
        parse_agent_request(body("valve", target_lang="de")), [("valve", "Ventil")]
    )
    assert translation_reply(result, task_id="t1") == {
        "id": "t1",
        "agent_id": "general_translation",
        "status": "success",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "messages": [
                    {"role": "assistant", "content": {"type": "text", "text": "[de] Ventil"}}
                ],
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5, "total_calls": 1},
    }


def test_sdk_compat_adds_a_message_object_and_async_replies_carry_the_async_id() -> None:
    result = translate_request(parse_agent_request(body()), [])
    reply = translation_reply(result, task_id="t", async_id="a1", sdk_compat=True)
    choice = reply["choices"][0]
    assert choice["message"] == choice["messages"][0]
    assert reply["async_id"] == "a1"


def test_parts_are_joined_by_newlines_and_strategy_sets_total_calls() -> None:
    data = body("one", target_lang="fr", strategy="three_step")
    data["messages"][0]["content"].append({"type": "text", "text": "two"})
    result = translate_request(parse_agent_request(data), [])
    assert result.text == "[fr] one\n[fr] two"
    assert result.total_calls == 3


@pytest.mark.parametrize(
    ("reason", "text"),
    [("sensitive", ""), ("network_error", ""), ("length", "[de] "), ("stop", "[de] abcdef")],
)
def test_finish_reasons_shape_the_text(reason: str, text: str) -> None:
    result = translate_request(parse_agent_request(body("abcdef", target_lang="de")), [], reason)
    assert (result.finish_reason, result.text) == (reason, text)


def test_stream_chunks_add_up_to_the_text_and_end_with_usage() -> None:
    result = Translation(
        text="[de] a b", finish_reason="stop", prompt_tokens=1, completion_tokens=2, total_calls=1
    )
    chunks = stream_chunks(result, task_id="t")
    texts = [c["choices"][0]["delta"]["content"]["text"] for c in chunks]
    assert "".join(texts) == "[de] a b"
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "stop"]
    assert chunks[-1]["usage"]["total_tokens"] == 3
    assert all(c["agent_id"] == "general_translation" and c["id"] == "t" for c in chunks)


def test_pending_failed_and_error_bodies() -> None:
    assert pending_reply("a") == {
        "status": "pending",
        "agent_id": "general_translation",
        "async_id": "a",
    }
    assert failed_reply("a", network_error("e1"))["error"]["code"] == "1234"
    assert "error id: e1" in network_error("e1")["message"]
    assert error_body("1302", "slow down") == {"error": {"code": "1302", "message": "slow down"}}
    assert error_body("1302", "x", "r1")["request_id"] == "r1"
