"""Masking what must not be translated, and proving it came back exactly once.

`mask` replaces every protected span with a numbered token; `restore` puts the originals back
and lists tokens that went missing, came back twice, or were invented.

Token format: `⟦N⟧` (U+27E6, decimal number, U+27E7).
- No letters, so nothing to translate, transliterate or change the case of.
- The brackets are mathematical symbols that never occur in UI text; models copy them like
  punctuation.
- Digits survive every script. Full-width digits (`⟦１⟧`) and spaces inside (`⟦ 1 ⟧`) are
  accepted on the way back, and so is the ASCII fallback `[[N]]` that models sometimes
  normalise to.
- Each occurrence gets its own number, even of identical text, so "exactly once" is checked per
  occurrence and the target language may reorder them.
- Literal `⟦`, `⟧` or `[[N]]` in the source are masked too, so they can never be mistaken for
  tokens.
Packing markers (`service.l10n.packing`) use `⟦§N⟧`, which the token pattern does not match.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

#: Appended to the strategy suggestion when a first attempt lost or duplicated tokens.
STRICT_INSTRUCTION = (
    "IMPORTANT: the text contains placeholder tokens written as ⟦number⟧ (for example ⟦1⟧). "
    "Copy every token exactly as written, exactly once each, without translating, "
    "renumbering, adding spaces or removing any; you may move a token where the target "
    "language's word order requires it."
)

TOKEN_RE = re.compile(r"⟦\s*(\d+)\s*⟧|\[\[\s*(\d+)\s*\]\]")

# Protected kinds, in priority order: when two start at the same place the first one wins.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("reserved", r"\[\[\s*\d+\s*\]\]|[⟦⟧]"),
    ("code", r"```[\s\S]*?```|`[^`\n]+`"),
    ("url", r"(?:https?|ftp)://[^\s<>\"'`]+|mailto:[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+"),
    ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("html_comment", r"<!--[\s\S]*?-->"),
    ("tag", r"</?(?:[A-Za-z][\w:.-]*|\d+)(?:\s+(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?/?>"),
    ("entity", r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#\d{1,7}|#[xX][0-9A-Fa-f]{1,6});"),
    ("mustache", r"\{\{\{?\s*[^{}]+?\s*\}?\}\}"),
    ("template", r"\$\{[^{}]+\}"),
    (
        "printf",
        r"%\{[A-Za-z_]\w*\}|%\([A-Za-z_]\w*\)[-+0#]*\d*(?:\.\d+)?[sdifrxXeEgGc]|%%"
        r"|%(?:\d+\$)?[-+0#]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|z|j|t|q)?[diouxXeEfFgGaAcspn@]",
    ),
    ("placeholder", r"\{\s*[\w.-]+\s*(?:[,:!][^{}]*)?\}|\{\}"),
)
_PROTECT_RE = re.compile("|".join(f"(?P<{kind}>{regex})" for kind, regex in _PATTERNS))
_TRAILING_PUNCT = ".,;:!?'\""

SpanFinder = Callable[[str], Iterable[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Keep:
    """A span the caller has already decided to protect (ICU `#`, arguments, nested messages).

    `ref` is the caller's own reference, returned with the placeholder by `restore`.
    """

    original: str
    kind: str
    ref: int = -1


@dataclass(frozen=True, slots=True)
class Placeholder:
    number: int
    kind: str
    original: str
    ref: int = -1

    @property
    def token(self) -> str:
        return f"⟦{self.number}⟧"


@dataclass(frozen=True, slots=True)
class Masked:
    """The text to translate, and its tokens by number (in order of appearance)."""

    text: str
    tokens: dict[int, Placeholder] = field(default_factory=dict)

    @property
    def kinds(self) -> Counter[str]:
        return Counter(p.kind for p in self.tokens.values())


@dataclass(frozen=True, slots=True)
class Restored:
    """The translated text with originals back in place, and what went wrong with tokens.

    `parts` alternates plain translated text and the placeholders it contained, in their new
    order, for callers that rebuild structured text (ICU messages).
    """

    text: str
    parts: tuple[str | Placeholder, ...]
    missing: tuple[Placeholder, ...] = ()
    duplicated: tuple[Placeholder, ...] = ()
    unexpected: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected)

    @property
    def free_text(self) -> str:
        """Only the translated prose, protected spans blanked: for forbidden-term scans."""
        return "".join(p if isinstance(p, str) else " " for p in self.parts)


def protected_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each span `mask` would protect in `text` (for display)."""
    return [(m.start(), m.end(), m.lastgroup or "") for m in _PROTECT_RE.finditer(text)]


def mask(text: str | Sequence[str | Keep], *, dnt: SpanFinder | None = None) -> Masked:
    """Replace protected spans of `text` by `⟦N⟧` tokens, numbered from 1 in order.

    `text` may be a sequence mixing plain strings (scanned) with `Keep` spans (masked as they
    are). `dnt` finds do-not-translate glossary terms in plain text, e.g. `TermIndex.dnt_spans`.
    """
    pieces = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    tokens: dict[int, Placeholder] = {}

    def add(original: str, kind: str, ref: int = -1) -> None:
        number = len(tokens) + 1
        tokens[number] = Placeholder(number, kind, original, ref)
        out.append(f"⟦{number}⟧")

    for piece in pieces:
        if isinstance(piece, Keep):
            add(piece.original, piece.kind, piece.ref)
            continue
        for chunk, kind in _split(piece, dnt):
            if kind is None:
                out.append(chunk)
            else:
                add(chunk, kind)
    return Masked("".join(out), tokens)


def _split(text: str, dnt: SpanFinder | None) -> list[tuple[str, str | None]]:
    """`text` cut into (chunk, kind) pieces; kind None for translatable chunks."""
    pieces: list[tuple[str, str | None]] = []
    pos = 0
    for match in _PROTECT_RE.finditer(text):
        kind = match.lastgroup or "placeholder"
        start, end = match.span()
        if kind == "url":
            end = start + len(_trim_url(match.group(0)))
        pieces += _split_terms(text[pos:start], dnt)
        pieces.append((text[start:end], kind))
        pos = end
    pieces += _split_terms(text[pos:], dnt)
    return [(chunk, kind) for chunk, kind in pieces if chunk]


def _trim_url(url: str) -> str:
    """A sentence's full stop, or a closing bracket opened before the URL, is not part of it."""
    while url:
        if url[-1] in _TRAILING_PUNCT:
            url = url[:-1]
        elif url[-1] in ")]" and url.count(url[-1]) > url.count("(" if url[-1] == ")" else "["):
            url = url[:-1]
        else:
            return url
    return url


def _split_terms(text: str, dnt: SpanFinder | None) -> list[tuple[str, str | None]]:
    if not text or dnt is None:
        return [(text, None)]
    pieces: list[tuple[str, str | None]] = []
    pos = 0
    for start, end in dnt(text):
        pieces += [(text[pos:start], None), (text[start:end], "dnt")]
        pos = end
    pieces.append((text[pos:], None))
    return pieces


def restore(translated: str, masked: Masked) -> Restored:
    """Put originals back; every token must come back exactly once, in any order."""
    parts: list[str | Placeholder] = []
    seen: Counter[int] = Counter()
    unexpected: list[str] = []
    pos = 0
    for match in TOKEN_RE.finditer(translated):
        number = int(match.group(1) or match.group(2))
        placeholder = masked.tokens.get(number)
        if placeholder is None:
            unexpected.append(match.group(0))
            continue  # left in the text, so the damage stays visible
        parts.append(translated[pos : match.start()])
        seen[number] += 1
        if seen[number] == 1:
            parts.append(placeholder)
        pos = match.end()
    parts.append(translated[pos:])
    merged = _merge_text(parts)
    return Restored(
        text="".join(p if isinstance(p, str) else p.original for p in merged),
        parts=tuple(merged),
        missing=tuple(p for n, p in masked.tokens.items() if not seen[n]),
        duplicated=tuple(masked.tokens[n] for n, count in sorted(seen.items()) if count > 1),
        unexpected=tuple(unexpected),
    )


def _merge_text(parts: list[str | Placeholder]) -> list[str | Placeholder]:
    """Join adjacent strings and drop empty ones."""
    merged: list[str | Placeholder] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def keep_edges(source: str, translated: str) -> str:
    """`translated` with the leading and trailing whitespace of `source` (models trim it)."""
    core = translated.strip()
    lead = source[: len(source) - len(source.lstrip())]
    trail = source[len(source.rstrip()) :]
    return f"{lead}{core}{trail}" if core else translated
