from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.jobs.fairness import pick
from service.pipeline.ports import Candidate
from service.pipeline.translation.chunking import Chunk, join_chunks, split_text
from service.pipeline.translation.memory import InFlight, memory_key, normalize

texts = st.text(alphabet=st.sampled_from([*"ab .!?\n\t", "。", "é"]), max_size=400)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(min_value=1, max_value=60))
def test_chunks_cover_text_exactly_and_fit(text: str, max_chars: int) -> None:
    chunks = split_text(text, max_chars)
    assert join_chunks(chunks, [c.text for c in chunks]) == text
    assert all(len(c.text) <= max_chars for c in chunks)


def test_prefers_paragraphs_then_sentences() -> None:
    text = "First paragraph here.\n\nSecond one. It has two sentences."
    chunks = split_text(text, 25)
    assert chunks[0] == Chunk("First paragraph here.", "\n\n")
    assert [c.text for c in chunks[1:]] == ["Second one.", "It has two sentences."]
    assert join_chunks(chunks, ["A", "B", "C"]) == "A\n\nB C"


def test_short_text_is_one_chunk() -> None:
    assert split_text("hi", 10) == [Chunk("hi", "")]


def test_memory_key_normalizes_spacing_but_not_meaning() -> None:
    base = {
        "tenant_id": "acme",
        "source_lang": "en",
        "target_lang": "de",
        "glossary_hash": "h",
        "strategy": "general",
        "instructions": None,
    }
    assert memory_key(text="Hello  world", **base) == memory_key(text=" Hello world ", **base)  # type: ignore[arg-type]
    assert memory_key(text="Hello world", **base) != memory_key(text="hello world", **base)  # type: ignore[arg-type]
    for change in (
        {"tenant_id": "globex"},
        {"target_lang": "fr"},
        {"glossary_hash": "h2"},
        {"strategy": "cot"},
        {"instructions": "formal"},
    ):
        assert memory_key(text="Hello", **{**base, **change}) != memory_key(text="Hello", **base)  # type: ignore[arg-type]
    assert normalize("a\u0301  b") == "á b"


def test_fair_pick_round_robins_and_caps() -> None:
    cands = [Candidate(f"a{i}", "acme") for i in range(10)] + [
        Candidate("g0", "globex"),
        Candidate("g1", "globex"),
    ]
    chosen = pick(cands, slots=6, running={}, tenant_cap=3)
    assert [c.job_id for c in chosen] == ["a0", "g0", "a1", "g1", "a2"]
    chosen = pick(cands, slots=4, running={"acme": 3}, tenant_cap=3)
    assert [c.job_id for c in chosen] == ["g0", "g1"]
    assert pick(cands, slots=0, running={}, tenant_cap=3) == []


async def test_a_finished_translation_is_shared_for_keep_seconds_then_forgotten() -> None:
    now = [0.0]
    inflight = InFlight(keep=30.0, size=2, clock=lambda: now[0])
    assert inflight.claim("a") is None  # ours to translate
    waiting = inflight.claim("a")
    assert waiting is not None and not waiting.done()
    inflight.settle("a", "A")
    assert waiting.result() == "A"
    now[0] = 29.0
    shared = inflight.claim("a")
    assert shared is not None and shared.result() == "A"  # a look-up that raced the write
    now[0] = 30.5
    assert inflight.claim("a") is None  # gone: the memory has it by now
    inflight.settle("a", None)  # nothing to share: not kept
    assert inflight.claim("a") is None
    inflight.settle("a", "A2")
    for key in ("b", "c"):  # at most `size` kept: the oldest goes first
        assert inflight.claim(key) is None
        inflight.settle(key, key.upper())
    assert inflight.claim("a") is None and inflight.claim("c") is not None
