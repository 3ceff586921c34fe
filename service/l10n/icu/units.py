"""ICU messages as translation units, and the message rebuilt from their translations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from service.l10n import plurals
from service.l10n.icu.syntax import (
    Arg,
    Choice,
    Hash,
    IcuError,
    Message,
    Part,
    Text,
    render,
    render_choice,
)
from service.l10n.protect import Keep, Placeholder

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
            yield Keep(render_choice(part), "icu_nested", index)


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
