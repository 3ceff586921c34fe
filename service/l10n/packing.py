"""Segment packing: many short segments in one agent call, split again on return.

Scheme: each segment is preceded by a marker line `⟦§N⟧` (N = 1, 2, … within the batch):

    ⟦§1⟧
    Save changes?
    ⟦§2⟧
    Delete ⟦1⟧?

The marker shares the brackets of the masking tokens (`⟦N⟧`, see `protect`) so models treat it
the same way, but the `§` keeps the two apart: the token pattern never matches a marker, and
segments are masked before packing, so a literal `⟦` in a segment cannot forge one. On return
the markers must all be there, once each, in order, each on its own line (spaces inside and
full-width digits tolerated); otherwise `unpack` answers None and the caller splits the batch
in halves (`halves`) and tries each again, down to single segments: one segment that breaks the
markers then costs about 2·log2(n) extra calls instead of n.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MARKER_RE = re.compile(r"^[ \t]*⟦[ \t]*§[ \t]*(\d+)[ \t]*⟧[ \t\r]*$", re.MULTILINE)
#: An instruction for the strategy suggestion of packed calls.
PACKING_INSTRUCTION = (
    "The text holds several independent segments, each introduced by a marker line such as "
    "⟦§1⟧. Translate each segment separately and keep every marker line unchanged, on its own "
    "line, in the same order."
)


def marker(number: int) -> str:
    return f"⟦§{number}⟧"


@dataclass(frozen=True, slots=True)
class Batch:
    """Segments `indices` (positions in the caller's list) packed into `text`."""

    indices: tuple[int, ...]
    text: str

    @property
    def packed(self) -> bool:
        return len(self.indices) > 1


def pack(segments: Sequence[str], *, max_chars: int = 4000, max_segments: int = 50) -> list[Batch]:
    """Consecutive segments grouped greedily up to `max_chars` of text (markers included) and
    `max_segments` each; a segment that alone exceeds `max_chars` gets a batch of its own.
    Single-segment batches carry the bare text (no markers)."""
    batches: list[Batch] = []
    group: list[int] = []
    size = 0
    for index, segment in enumerate(segments):
        cost = len(segment) + len(marker(len(group) + 1)) + 2
        if group and (size + cost > max_chars or len(group) >= max_segments):
            batches.append(_batch(group, segments))
            group, size = [], 0
            cost = len(segment) + len(marker(1)) + 2
        group.append(index)
        size += cost
    if group:
        batches.append(_batch(group, segments))
    return batches


def _batch(group: list[int], segments: Sequence[str]) -> Batch:
    if len(group) == 1:
        return Batch((group[0],), segments[group[0]])
    body = "\n".join(f"{marker(n)}\n{segments[i]}" for n, i in enumerate(group, start=1))
    return Batch(tuple(group), body)


def halves(batch: Batch, segments: Sequence[str]) -> tuple[Batch, Batch]:
    """A packed batch split in two, each packed again (or bare, if one segment is left)."""
    if not batch.packed:
        raise ValueError("a single-segment batch cannot be split")
    middle = len(batch.indices) // 2
    first, second = list(batch.indices[:middle]), list(batch.indices[middle:])
    return _batch(first, segments), _batch(second, segments)


def unpack(translated: str, batch: Batch) -> list[str] | None:
    """The translated segments of `batch`, in order, or None if the markers did not survive
    (missing, duplicated, out of order, or text before the first one)."""
    if not batch.packed:
        return [translated]
    found = list(MARKER_RE.finditer(translated))
    if [int(m.group(1)) for m in found] != list(range(1, len(batch.indices) + 1)):
        return None
    if translated[: found[0].start()].strip():
        return None
    ends = [m.start() for m in found[1:]] + [len(translated)]
    sections = [translated[m.end() : end] for m, end in zip(found, ends, strict=True)]
    last = len(sections) - 1
    return [_section(text, before_marker=i < last) for i, text in enumerate(sections)]


def _section(text: str, *, before_marker: bool) -> str:
    """A segment without the line break after its marker and, if another marker follows, the
    one before it: those belong to the scheme."""
    text = text.removeprefix("\n")
    return text.removesuffix("\n").removesuffix("\r") if before_marker else text


def split_sections(text: str) -> list[tuple[str, str]]:
    """(marker line or "", text) pairs, for a model (our simulator) translating section by
    section while copying marker lines."""
    found = list(MARKER_RE.finditer(text))
    if not found:
        return [("", text)]
    pieces = [("", text[: found[0].start()])] if found[0].start() else []
    ends = [m.start() for m in found[1:]] + [len(text)]
    return pieces + [(m.group(0), text[m.end() : e]) for m, e in zip(found, ends, strict=True)]


def calls_saved(batches: Sequence[Batch]) -> int:
    """Agent calls avoided by packing, compared with one call per segment."""
    return sum(len(b.indices) - 1 for b in batches)
