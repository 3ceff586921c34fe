"""Token counts before a call: Z.ai's tokenizer once per text, a character estimate when it
does not answer (and no call at all for a while after), and splitting long texts by tokens."""

from __future__ import annotations

from service.pipeline.translation.chunking import chars_for_tokens, split_text
from service.pipeline.translation.estimate import TokenEstimator, character_estimate
from service.zai import ZaiServerError
from tests.unit.pipeline.fakes import ScriptedZai


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_text_is_counted_by_the_tokenizer_once() -> None:
    zai, seen = ScriptedZai(), []
    estimator = TokenEstimator(on_estimate=seen.append)
    client = zai.client()
    first = await estimator.count(client, "Your invoice is ready")
    again = await estimator.count(client, "Your invoice is ready")
    other = await estimator.count(client, "Another text")
    assert (first.tokens, first.method) == (6, "tokenizer")  # ceil(21 / 4)
    assert again == first and other.tokens == 3
    assert zai.counted == ["Your invoice is ready", "Another text"]
    assert seen == ["tokenizer"] * 3


async def test_an_outage_falls_back_to_characters_and_rests_the_tokenizer() -> None:
    zai, clock, seen = ScriptedZai(tokenizer_down=True), Clock(), []
    estimator = TokenEstimator(
        clock=clock, cooldown=30.0, chars_per_token=3.0, on_estimate=seen.append
    )
    client = zai.client()
    down = await estimator.count(client, "Your invoice is ready")  # 21 characters
    assert (down.tokens, down.method) == (7, "characters")
    assert len(zai.counted) == 1  # asked once, no retry
    clock.now = 29.0
    await estimator.count(client, "Something else entirely")
    assert len(zai.counted) == 1  # not asked again while it rests
    zai.tokenizer_down = False
    clock.now = 31.0
    back = await estimator.count(client, "Your invoice is ready")
    assert (back.tokens, back.method) == (6, "tokenizer")
    assert seen == ["characters", "characters", "tokenizer"]


async def test_a_failure_of_any_class_is_an_estimate_not_an_error() -> None:
    class Broken:
        key_fingerprint = "broken-account"

        async def count_tokens(self, text: str, **_: object) -> int:
            raise ZaiServerError("boom")

    estimator = TokenEstimator()
    estimate = await estimator.count(Broken(), "abc")
    assert (estimate.tokens, estimate.method) == (1, "characters")
    # Another account's tokenizer is still asked: only the failing one rests.
    zai = ScriptedZai()
    assert (await estimator.count(zai.client(), "abcd")).method == "tokenizer"


def test_character_estimate_counts_dense_scripts_per_character() -> None:
    assert character_estimate("Hello world!", 3.0) == 4  # ceil(12 / 3)
    assert character_estimate("請求書の準備ができました", 3.0) == 12
    assert character_estimate("Invoice 請求書", 4.0) == 3 + 2  # 3 dense + ceil(8 / 4)
    assert character_estimate("", 3.0) == 0


def test_chunk_size_follows_the_texts_token_density() -> None:
    # English at 4 chars per token stays within 1,000 tokens at 3,000 characters: unchanged.
    assert chars_for_tokens(3000, 750, max_tokens=1000, max_chars=3000) == 3000
    # A dense text of 3,000 characters counted as 3,000 tokens: chunks of 1,000 characters.
    assert chars_for_tokens(3000, 3000, max_tokens=1000, max_chars=3000) == 1000
    assert chars_for_tokens(9000, 4500, max_tokens=1000, max_chars=3000) == 2000
    assert chars_for_tokens(10, 10_000, max_tokens=1, max_chars=3000) == 1


def test_split_by_that_size_keeps_every_chunk_within_the_token_limit() -> None:
    sentence = "請求書の準備ができました。"  # 13 characters, about 13 tokens
    text = sentence * 200
    size = chars_for_tokens(len(text), len(text), max_tokens=500, max_chars=3000)
    chunks = split_text(text, size)
    assert size == 500 and len(chunks) == 6
    assert all(len(c.text) <= 500 for c in chunks)
    assert "".join(c.text + c.separator for c in chunks) == text
