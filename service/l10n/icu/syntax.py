"""ICU MessageFormat syntax: the message tree, its parser and its printer (see the package's
docstring for what is covered)."""

from __future__ import annotations

from dataclasses import dataclass


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
            out.append(render_choice(part))
    return "".join(out)


def render_choice(choice: Choice) -> str:
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
