from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.chunking import Chunk, join_chunks, split_text
from service.pipeline.fairness import Candidate, pick
from service.pipeline.memory import memory_key, normalize

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
