"""Split long content into chunks the agent takes in one call, and join the translations back.

Boundaries are chosen from the strongest available: paragraph, line, sentence, word, and only
then a hard cut. The whitespace at each boundary stays outside the chunk and is restored
verbatim on join, so layout survives even if the model trims its reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARIES = (
    re.compile(r"\n\s*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"(?<=[.!?。！？])\s+"),  # sentence
    re.compile(r"\s+"),  # word
)


@dataclass(frozen=True)
class Chunk:
    text: str
    separator: str  # whitespace that followed this chunk in the source


def split_text(text: str, max_chars: int) -> list[Chunk]:
    """Chunks of at most `max_chars` characters (separators excluded) covering `text` exactly."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    if len(text) <= max_chars:
        return [Chunk(text, "")]
    pieces = _pieces(text, max_chars, 0)
    return _pack(pieces, max_chars)


def chars_for_tokens(length: int, tokens: int, *, max_tokens: int, max_chars: int) -> int:
    """The longest chunk, in characters, that keeps a text of `length` characters and `tokens`
    tokens within `max_tokens` per chunk at its own density; never above `max_chars`.

    Splitting by tokens this way needs one count of the whole text instead of one per candidate
    chunk, and the boundaries stay where `split_text` puts them (paragraph, line, sentence).
    """
    if tokens <= max_tokens or length <= 0:
        return max_chars
    return max(1, min(max_chars, length * max_tokens // tokens))


def join_chunks(chunks: list[Chunk], translations: list[str]) -> str:
    if len(chunks) != len(translations):
        raise ValueError("one translation per chunk is required")
    return "".join(t + c.separator for c, t in zip(chunks, translations, strict=True))


def _pieces(text: str, max_chars: int, level: int) -> list[Chunk]:
    """Break `text` at boundaries of `level`, recursing into pieces that are still too long."""
    if len(text) <= max_chars:
        return [Chunk(text, "")]
    if level == len(_BOUNDARIES):
        cuts = range(0, len(text), max_chars)
        return [Chunk(text[i : i + max_chars], "") for i in cuts]
    out: list[Chunk] = []
    last = 0
    for m in _BOUNDARIES[level].finditer(text):
        if m.start() == 0:
            continue
        out.extend(
            _with_separator(_pieces(text[last : m.start()], max_chars, level + 1), m.group())
        )
        last = m.end()
    tail = text[last:]
    if tail or not out:
        out.extend(_pieces(tail, max_chars, level + 1))
    return out


def _with_separator(chunks: list[Chunk], separator: str) -> list[Chunk]:
    if not chunks:
        return [Chunk("", separator)]
    *head, last = chunks
    return [*head, Chunk(last.text, last.separator + separator)]


def _pack(pieces: list[Chunk], max_chars: int) -> list[Chunk]:
    """Greedily merge neighbouring pieces back together while they fit."""
    packed: list[Chunk] = []
    for piece in pieces:
        if packed:
            prev = packed[-1]
            merged = prev.text + prev.separator + piece.text
            if len(merged) <= max_chars:
                packed[-1] = Chunk(merged, piece.separator)
                continue
        packed.append(piece)
    return packed
