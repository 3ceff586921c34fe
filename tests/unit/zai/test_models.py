"""Request validation (no HTTP) and the agent request body."""

from __future__ import annotations

import pytest

from service.languages import SOURCE_LANGS, STRATEGIES, TARGET_LANGS
from service.zai.errors import ZaiBadRequest, ZaiInvalidRequest
from service.zai.models import TranslateRequest, agent_body, validate


def test_minimal_body() -> None:
    body = agent_body(TranslateRequest("Hello", "de"), "rid-1")
    assert body == {
        "agent_id": "general_translation",
        "stream": False,
        "request_id": "rid-1",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "custom_variables": {"source_lang": "auto", "target_lang": "de", "strategy": "general"},
    }


def test_full_body() -> None:
    request = TranslateRequest(
        "Hello",
        "de",
        source_lang="en",
        glossary="file-1",
        strategy="cot",
        suggestion="formal",
        reason_lang="from",
    )
    assert agent_body(request, "r")["custom_variables"] == {
        "source_lang": "en",
        "target_lang": "de",
        "strategy": "cot",
        "glossary": "file-1",
        "strategy_config": {"general": {"suggestion": "formal"}, "cot": {"reason_lang": "from"}},
    }


def test_only_set_strategy_config_is_sent() -> None:
    body = agent_body(TranslateRequest("Hi", "fr", suggestion="terse"), "r")
    assert body["custom_variables"]["strategy_config"] == {"general": {"suggestion": "terse"}}
    assert "glossary" not in body["custom_variables"]


@pytest.mark.parametrize("target", sorted(TARGET_LANGS))
def test_every_documented_target_is_valid(target: str) -> None:
    validate(TranslateRequest("x", target))


@pytest.mark.parametrize("source", sorted(SOURCE_LANGS))
def test_every_documented_source_is_valid(source: str) -> None:
    validate(TranslateRequest("x", "en", source_lang=source))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_documented_strategy_is_valid(strategy: str) -> None:
    validate(TranslateRequest("x", "en", strategy=strategy))


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (TranslateRequest("x", "auto"), "target_lang"),
        (TranslateRequest("x", "zh"), "target_lang"),
        (TranslateRequest("x", "cn"), "target_lang"),
        (TranslateRequest("x", "ipa"), "target_lang"),
        (TranslateRequest("x", "de", source_lang="en-GB"), "source_lang"),
        (TranslateRequest("x", "de", source_lang="EN"), "source_lang"),
        (TranslateRequest("x", "de", strategy="fast"), "strategy"),
        (TranslateRequest("x", "de", strategy="cot", reason_lang="both"), "reason_lang"),
        (TranslateRequest("   ", "de"), "text"),
        (TranslateRequest("x", "de", glossary=" "), "glossary"),
    ],
)
def test_invalid_requests(request_: TranslateRequest, fragment: str) -> None:
    with pytest.raises(ZaiInvalidRequest) as info:
        validate(request_)
    err = info.value
    assert isinstance(err, ZaiBadRequest)
    assert fragment in err.message
    assert (err.status, err.code, err.retryable) == (None, None, False)
    assert err.error_code == "zai.invalid_request"


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ZaiInvalidRequest) as info:
        validate(TranslateRequest("", "xx", source_lang="yy", request_id="r9"))
    assert info.value.message.count(";") == 2
    assert info.value.request_id == "r9"
