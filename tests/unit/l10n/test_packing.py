from __future__ import annotations

import pytest

from service.l10n.packing import (
    PACKING_INSTRUCTION,
    Batch,
    calls_saved,
    halves,
    marker,
    pack,
    split_sections,
    unpack,
)
from service.l10n.protect import TOKEN_RE


def test_pack_groups_consecutive_segments_with_marker_lines() -> None:
    (batch,) = pack(["Save", "Delete ⟦1⟧?"])
    assert batch.indices == (0, 1)
    assert batch.text == "⟦§1⟧\nSave\n⟦§2⟧\nDelete ⟦1⟧?"


def test_pack_respects_max_chars_and_max_segments() -> None:
    segments = ["x" * 10] * 5
    assert [b.indices for b in pack(segments, max_chars=40)] == [(0, 1), (2, 3), (4,)]
    assert [b.indices for b in pack(segments, max_segments=2)] == [(0, 1), (2, 3), (4,)]


def test_a_long_segment_gets_its_own_unmarked_batch() -> None:
    batches = pack(["short", "y" * 100, "z"], max_chars=50)
    assert [b.indices for b in batches] == [(0,), (1,), (2,)]
    assert batches[1].text == "y" * 100 and not batches[1].packed


def test_unpack_roundtrip_with_multiline_segments() -> None:
    segments = ["one\ntwo", "", "three\n"]
    (batch,) = pack(segments)
    assert unpack(batch.text, batch) == segments


def test_unpack_tolerates_spaces_and_crlf() -> None:
    batch = Batch((0, 1), "")
    assert unpack("\n⟦ § 1 ⟧ \r\nA\r\n⟦§2⟧\nB", batch) == ["A", "B"]


@pytest.mark.parametrize(
    "translated",
    [
        "⟦§1⟧\nA",  # one marker lost
        "⟦§2⟧\nB\n⟦§1⟧\nA",  # order changed
        "⟦§1⟧\nA\n⟦§1⟧\nB",  # duplicated
        "Here you go:\n⟦§1⟧\nA\n⟦§2⟧\nB",  # text before the first marker
        "⟦§1⟧ A\n⟦§2⟧ B",  # markers no longer on their own lines
        "⟦§1⟧\nA\n⟦§2⟧\nB\n⟦§3⟧\nC",  # one too many
    ],
)
def test_unpack_refuses_damaged_markers(translated: str) -> None:
    assert unpack(translated, Batch((0, 1), "")) is None


def test_single_segment_batches_are_returned_as_they_are() -> None:
    assert unpack("anything ⟦§9⟧", Batch((3,), "x")) == ["anything ⟦§9⟧"]


def test_markers_are_not_masking_tokens() -> None:
    assert TOKEN_RE.search(marker(1)) is None


def test_split_sections() -> None:
    assert split_sections("plain") == [("", "plain")]
    assert split_sections("⟦§1⟧\na\n⟦§2⟧\nb") == [("⟦§1⟧", "\na\n"), ("⟦§2⟧", "\nb")]


def test_calls_saved() -> None:
    assert calls_saved(pack(["a"] * 10, max_segments=4)) == 7


def test_instruction_mentions_the_marker_format() -> None:
    assert "⟦§1⟧" in PACKING_INSTRUCTION


def test_halves_repack_each_half_and_leave_a_lone_segment_bare() -> None:
    texts = ["a", "b", "c"]
    (batch,) = pack(texts)
    first, second = halves(batch, texts)
    assert first == Batch((0,), "a")
    assert second.indices == (1, 2) and unpack(second.text, second) == ["b", "c"]
    with pytest.raises(ValueError):
        halves(first, texts)
