"""ICU MessageFormat: parse, list the text to translate, rebuild for the target language.

Why our own parser: the PyPI parsers are either unmaintained since 2021 (`pyicumessageformat`,
parse-only, no serializer, no source positions) or bound to native builds (PyICU needs the ICU
C++ library; the Rust-backed ones are months old). We need a parse → edit → print round trip
that reproduces arguments exactly, which is a small recursive-descent parser (~150 lines).

Syntax covered: simple arguments (`{n}`, `{n, number}`, `{d, date, short}`, `{x, number,
::currency/EUR}`), `plural` / `selectordinal` (with `offset:N`, `=N` exact branches, `#`),
`select`, nesting, and ICU apostrophe quoting (`''` is an apostrophe; `'` before `{`, `}` or,
in plural branches, `#` starts a literal section).

Translation units: every message (the top level or a branch) holding non-blank text becomes a
`Unit` whose arguments, `#` and nested plural/select messages are `Keep` spans for
`protect.mask`, so the model sees one sentence, may move them, and cannot change them. Nested
messages' branches are units of their own.

Plural categories (documented choice): a rebuilt `plural` / `selectordinal` carries exactly the
CLDR cardinal / ordinal categories of the target language, from `service.l10n.plurals` (the
same map and language-code rules as the file formats), plus every `=N` branch of the source.
A category the source lacks (Polish `few`, `many`) is filled with the translation of the
source's `other` branch and listed in `Rebuilt.filled`, for review; source categories the
target does not use (English `one` in Japanese) are dropped and listed in `Rebuilt.dropped`.
A language without CLDR rules (`IPA`) keeps the source's branches as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from service.l10n import plurals
from service.l10n.protect import Keep, Placeholder


class IcuError(ValueError):
    """The text is not a well-formed ICU message."""


@dataclass(frozen=True, slots=True)
class Text:
    value: str  # unescaped


@dataclass(frozen=True, slots=True)
class Arg:
    """A simple argument, kept as written (`{count, number, integer}`)."""

    name: str
    raw: str


@dataclass(frozen=True, slots=True)
class Hash:
    """`#` inside a plural branch: the number (minus the offset)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A `plural`, `selectordinal` or `select` argument and its branches, in source order."""

    name: str
    kind: str
    branches: tuple[tuple[str, Message], ...]
    offset: int = 0


Part = Text | Arg | Hash | Choice
Message = tuple[Part, ...]

CHOICE_KINDS = frozenset(["plural", "selectordinal", "select"])


# --- parsing ---------------------------------------------------------------------------------


def parse(text: str) -> Message:
    """The message tree of `text`; raises IcuError if it is not well-formed."""
    parser = _Parser(text)
    message = parser.message(in_plural=False)
    if parser.pos != len(text):
        raise IcuError(f"unmatched '}}' at {parser.pos}")
    return message


def try_parse(text: str) -> Message | None:
    """The tree if `text` is an ICU message with a plural/select, else None (plain text)."""
    if "{" not in text:
        return None
    try:
        message = parse(text)
    except IcuError:
        return None
    return message if has_choice(message) else None


def has_choice(message: Message) -> bool:
    return any(isinstance(part, Choice) for part in message)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def message(self, *, in_plural: bool) -> Message:
        parts: list[Part] = []
        text: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "}":
                break
            if char == "{" or (char == "#" and in_plural):
                if text:
                    parts.append(Text("".join(text)))
                    text = []
                parts.append(self.argument(in_plural) if char == "{" else self._hash())
            elif char == "'":
                text.append(self.quoted(in_plural))
            else:
                text.append(char)
                self.pos += 1
        if text:
            parts.append(Text("".join(text)))
        return tuple(parts)

    def _hash(self) -> Hash:
        self.pos += 1
        return Hash()

    def quoted(self, in_plural: bool) -> str:
        """`''` → `'`; `'` before a syntax character quotes up to the next lone `'`."""
        text, pos = self.text, self.pos
        nxt = text[pos + 1] if pos + 1 < len(text) else ""
        if nxt == "'":
            self.pos += 2
            return "'"
        if not (nxt in ("{", "}") or (nxt == "#" and in_plural)):
            self.pos += 1
            return "'"
        out: list[str] = []
        pos += 1
        while pos < len(text):
            if text[pos] == "'":
                if text[pos + 1 : pos + 2] == "'":
                    out.append("'")
                    pos += 2
                    continue
                self.pos = pos + 1
                return "".join(out)
            out.append(text[pos])
            pos += 1
        self.pos = pos  # ICU: an unterminated quote runs to the end of the message
        return "".join(out)

    def argument(self, in_plural: bool) -> Part:
        start = self.pos
        self.pos += 1
        name = self._word()
        if not name:
            raise IcuError(f"argument without a name at {start}")
        if self._skip_ws() == "}":
            self.pos += 1
            return Arg(name, self.text[start : self.pos])
        self._expect(",")
        kind = self._word()
        if kind in CHOICE_KINDS:
            self._expect(",")
            return self.choice(name, kind)
        self._skip_style()
        return Arg(name, self.text[start : self.pos])

    def choice(self, name: str, kind: str) -> Choice:
        offset = 0
        if kind != "select" and self.text.startswith("offset:", self._skip_ws_pos()):
            self.pos = self._skip_ws_pos() + len("offset:")
            word = self._word()
            if not word.isdigit():
                raise IcuError(f"bad offset {word!r} at {self.pos}")
            offset = int(word)
        branches: list[tuple[str, Message]] = []
        while self._skip_ws() != "}":
            key = self._word()
            if not key:
                raise IcuError(f"branch key expected at {self.pos}")
            self._expect("{")
            branches.append((key, self.message(in_plural=kind != "select")))
            self._expect("}")
        self.pos += 1
        if "other" not in {key for key, _ in branches}:
            raise IcuError(f"{kind} argument {name!r} has no 'other' branch")
        return Choice(name, kind, tuple(branches), offset)

    def _skip_style(self) -> None:
        """Skip `, style}` of a simple argument (quotes and nested braces allowed)."""
        depth = 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "'":
                self.quoted(False)
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            self.pos += 1
            if depth == 0:
                return
        raise IcuError("unterminated argument")

    def _skip_ws_pos(self) -> int:
        pos = self.pos
        while pos < len(self.text) and self.text[pos].isspace():
            pos += 1
        return pos

    def _skip_ws(self) -> str:
        self.pos = self._skip_ws_pos()
        if self.pos >= len(self.text):
            raise IcuError("unexpected end of message")
        return self.text[self.pos]

    def _word_peek(self) -> str:
        pos = start = self._skip_ws_pos()
        while pos < len(self.text) and not self.text[pos].isspace() and self.text[pos] not in "{},":
            pos += 1
        return self.text[start:pos]

    def _word(self) -> str:
        word = self._word_peek()
        self.pos = self._skip_ws_pos() + len(word)
        return word

    def _expect(self, char: str) -> None:
        if self._skip_ws() != char:
            raise IcuError(f"expected {char!r} at {self.pos}")
        self.pos += 1


# --- printing --------------------------------------------------------------------------------


def render(message: Message, *, in_plural: bool = False, in_branch: bool = False) -> str:
    """ICU source of `message`; text is quoted only where ICU needs it (`in_branch`: a `}`
    follows the message)."""
    out: list[str] = []
    for index, part in enumerate(message):
        if isinstance(part, Text):
            rest = message[index + 1 :]
            follows = _starts_with_syntax(rest) or (in_branch and not rest)
            out.append(escape(part.value, in_plural=in_plural, before_syntax=follows))
        elif isinstance(part, Arg):
            out.append(part.raw)
        elif isinstance(part, Hash):
            out.append("#")
        else:
            out.append(_render_choice(part))
    return "".join(out)


def _render_choice(choice: Choice) -> str:
    offset = f"offset:{choice.offset} " if choice.offset else ""
    plural = choice.kind != "select"
    branches = " ".join(
        f"{key} {{{render(msg, in_plural=plural, in_branch=True)}}}" for key, msg in choice.branches
    )
    return f"{{{choice.name}, {choice.kind}, {offset}{branches}}}"


def _starts_with_syntax(rest: Message) -> bool:
    return bool(rest) and not isinstance(rest[0], Text)


def escape(text: str, *, in_plural: bool, before_syntax: bool = False) -> str:
    """Quote ICU syntax characters in literal text (`'{'`); double an apostrophe only where a
    lone one would start a quote: before a syntax character, an apostrophe or an argument."""
    special = ("{", "}", "#") if in_plural else ("{", "}")
    out: list[str] = []
    for index, char in enumerate(text):
        nxt = text[index + 1] if index + 1 < len(text) else ("{" if before_syntax else "")
        if char in special:
            out.append(f"'{char}'")
        elif char == "'" and (nxt in special or nxt == "'"):
            out.append("''")
        else:
            out.append(char)
    return "".join(out)


# --- translation units -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One sentence to translate: plain text with `Keep` spans for ICU syntax (`ref` = index of
    the part in its message)."""

    pieces: tuple[str | Keep, ...]


def units(message: Message) -> list[Unit]:
    """The translatable sentences of `message`, in a fixed order that `rebuild` relies on."""
    return list(_units(message, in_plural=False))


def _units(message: Message, *, in_plural: bool) -> Iterator[Unit]:
    if _is_unit(message):
        yield Unit(tuple(_pieces(message, in_plural)))
    for part in message:
        if isinstance(part, Choice):
            for _, branch in part.branches:
                yield from _units(branch, in_plural=part.kind != "select")


def _is_unit(message: Message) -> bool:
    return any(isinstance(part, Text) and part.value.strip() for part in message)


def _pieces(message: Message, in_plural: bool) -> Iterator[str | Keep]:
    for index, part in enumerate(message):
        if isinstance(part, Text):
            yield part.value
        elif isinstance(part, Arg):
            yield Keep(part.raw, "icu_arg", index)
        elif isinstance(part, Hash):
            yield Keep("#", "icu_hash", index)
        else:
            yield Keep(_render_choice(part), "icu_nested", index)


# --- rebuilding ------------------------------------------------------------------------------


@dataclass(slots=True)
class Rebuilt:
    text: str
    filled: list[str] = field(default_factory=list)  # "count:few" categories copied from other
    dropped: list[str] = field(default_factory=list)  # "count:one" categories the target lacks


def rebuild(
    message: Message, translations: Sequence[Sequence[str | Placeholder]], target_lang: str
) -> Rebuilt:
    """The target message: each unit replaced by its translation (restored parts, as from
    `protect.restore(...).parts`), plural categories fitted to `target_lang`."""
    if len(translations) != len(units(message)):
        raise IcuError(f"expected {len(units(message))} translations, got {len(translations)}")
    result = Rebuilt("")
    builder = _Builder(iter(translations), target_lang, result)
    result.text = render(builder.message(message))
    return result


class _Builder:
    def __init__(
        self, translations: Iterator[Sequence[str | Placeholder]], lang: str, result: Rebuilt
    ) -> None:
        self.translations = translations
        self.lang = lang
        self.result = result

    def message(self, message: Message) -> Message:
        translated = next(self.translations) if _is_unit(message) else None
        rebuilt = [self.choice(p) if isinstance(p, Choice) else p for p in message]
        if translated is None:
            return tuple(rebuilt)
        return tuple(_merge(self._part(piece, rebuilt) for piece in translated))

    def _part(self, piece: str | Placeholder, parts: list[Part]) -> Part:
        if isinstance(piece, str):
            return Text(piece)
        if piece.kind.startswith("icu_") and 0 <= piece.ref < len(parts):
            return parts[piece.ref]
        return Text(piece.original)  # HTML, URLs… protected inside the text: literal text

    def choice(self, choice: Choice) -> Choice:
        branches = [(key, self.message(msg)) for key, msg in choice.branches]
        if choice.kind == "select":
            return Choice(choice.name, choice.kind, tuple(branches), choice.offset)
        ordinal = choice.kind == "selectordinal"
        if plurals.categories(self.lang, ordinal=ordinal) is None:
            return Choice(choice.name, choice.kind, tuple(branches), choice.offset)
        fitted = self._fit(choice.name, branches, ordinal)
        return Choice(choice.name, choice.kind, fitted, choice.offset)

    def _fit(
        self, name: str, branches: list[tuple[str, Message]], ordinal: bool
    ) -> tuple[tuple[str, Message], ...]:
        """`=N` branches first, then the target's categories (the same re-cut as the files)."""
        exact = [(key, msg) for key, msg in branches if key.startswith("=")]
        keyed = {key: msg for key, msg in branches if not key.startswith("=")}
        fitted = plurals.reshape(keyed, self.lang, ordinal=ordinal)
        self.result.filled += [f"{name}:{key}" for key in fitted if key not in keyed]
        self.result.dropped += [f"{name}:{key}" for key in keyed if key not in fitted]
        return tuple(exact + list(fitted.items()))


def _merge(parts: Iterator[Part]) -> Iterator[Part]:
    """Adjacent Text parts joined (a protected span between two texts is text too)."""
    pending: list[str] = []
    for part in parts:
        if isinstance(part, Text):
            pending.append(part.value)
            continue
        if pending:
            yield Text("".join(pending))
            pending = []
        yield part
    if pending:
        yield Text("".join(pending))
