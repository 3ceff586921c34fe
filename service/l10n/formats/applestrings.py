"""Apple .strings (`"key" = "value";` with /* */ and // comments), UTF-8 or UTF-16.

No well-kept, permissively licensed Python library reads and writes this format without losing
comments or layout (translate-toolkit does, but is GPL-3.0; `dotstrings` re-flows comments and
keeps escapes undecoded). The grammar is tiny, so a tokenizer finds each value's exact span and
merge replaces only those spans: every other byte (comments, blank lines, order) is unchanged.

Extracted: every entry with a non-empty value; id = the decoded key; the comments right above
it (no blank line between) become the note. Escapes (\\" \\\\ \\n \\t \\r \\Uxxxx) are decoded for
translation and re-applied on merge. .strings records no language.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from service.l10n.formats.escapes import unescaper
from service.l10n.formats.model import ResourceFormatError, Unit, check_known, check_unique

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>/\*.*?\*/|//[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<bare>[A-Za-z0-9_.$:/-]+)
      | (?P<punct>[=;])""",
    re.VERBOSE | re.DOTALL,
)
#: .strings escapes decoded: \n, \t, \r, \uXXXX or \UXXXX, and \" → ", ...
unescape = unescaper({"n": "\n", "t": "\t", "r": "\r"}, "uU")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int
    line: int


@dataclass(frozen=True)
class _Entry:
    unit: Unit
    value: _Token


class AppleStringsFormat:
    name = "apple-strings"

    def extract(self, content: bytes) -> list[Unit]:
        text, _, _ = _decode(content)
        return check_unique(entry.unit for entry in _entries(text) if entry.unit.text.strip())

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        text, bom, encoding = _decode(content)
        entries = [entry for entry in _entries(text) if entry.unit.text.strip()]
        check_unique(entry.unit for entry in entries)
        check_known(translations, (entry.unit.id for entry in entries))
        pieces, cursor = [], 0
        for entry in entries:
            if entry.unit.id in translations:
                pieces += [text[cursor : entry.value.start], quote(translations[entry.unit.id])]
                cursor = entry.value.end
        return bom + ("".join(pieces) + text[cursor:]).encode(encoding)


def _decode(content: bytes) -> tuple[str, bytes, str]:
    """Text, byte order mark and encoding (UTF-8 unless a BOM says UTF-16)."""
    bom, encoding = next(((b, e) for b, e in _BOMS if content.startswith(b)), (b"", "utf-8"))
    try:
        return content[len(bom) :].decode(encoding), bom, encoding
    except UnicodeDecodeError as exc:
        raise ResourceFormatError(f".strings: not {encoding} at byte {exc.start}") from exc


def _tokens(text: str) -> Iterator[_Token]:
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ResourceFormatError(f".strings: unexpected {text[position]!r} at line {line}")
        kind = match.lastgroup or ""
        yield _Token(kind, match.group(), position, match.end(), line)
        line += match.group().count("\n")
        position = match.end()


def _entries(text: str) -> Iterator[_Entry]:
    """Entries in order; raises with a line number on anything but `key = value ;`."""
    comments: list[str] = []
    pending: list[_Token] = []
    for token in _tokens(text):
        if token.kind == "space":
            if "\n\n" in token.text.replace("\r", "") and not pending:
                comments = []  # a blank line ends the comment block that notes an entry
            continue
        if token.kind == "comment":
            comments.append(_comment_text(token.text))
            continue
        pending.append(token)
        if len(pending) == 4:
            yield _entry(pending, comments)
            pending, comments = [], []
    if pending:
        raise ResourceFormatError(f".strings: unfinished entry at line {pending[0].line}")


def _entry(tokens: list[_Token], comments: list[str]) -> _Entry:
    key, equals, value, semicolon = tokens
    shape = (
        key.kind in ("string", "bare"),
        equals.text,
        value.kind in ("string", "bare"),
        semicolon.text,
    )
    if shape != (True, "=", True, ";"):
        raise ResourceFormatError(f'.strings: expected "key" = "value"; at line {key.line}')
    unit = Unit(id=_value(key), text=_value(value), note="\n".join(comments) or None)
    return _Entry(unit, value)


def _comment_text(comment: str) -> str:
    return comment[2:-2].strip() if comment.startswith("/*") else comment[2:].strip()


def _value(token: _Token) -> str:
    return unescape(token.text[1:-1]) if token.kind == "string" else token.text


def quote(text: str) -> str:
    """`text` as a quoted .strings value."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'
