"""Nested key/value documents (JSON, YAML): string leaves, their dotted ids, text decoding, and
`TreeFormat`, the extract and merge both formats share.

Ids join the keys of the path with "." and list indexes as numbers ("home.title", "steps.0").
A flat key that already contains dots can collide with a nested path; `check_unique` turns that
rare case into an error instead of a silent mix-up.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence
from contextlib import contextmanager
from typing import Any

from service.l10n.formats.model import ResourceFormatError, Unit, check_known, check_unique

Path = tuple[str | int, ...]
Located = list[tuple[Unit, Path]]


def decode_utf8(content: bytes) -> tuple[str, bool]:
    """The text and whether it began with a byte order mark."""
    bom = content.startswith(codecs.BOM_UTF8)
    try:
        return content.decode("utf-8-sig"), bom
    except UnicodeDecodeError as exc:
        raise ResourceFormatError(f"not UTF-8 at byte {exc.start}") from exc


def encode_utf8(text: str, bom: bool) -> bytes:
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")


@contextmanager
def depth_guard() -> Iterator[None]:
    """Turn Python's recursion limit, hit by absurdly deep nesting, into a file error."""
    try:
        yield
    except RecursionError as exc:
        raise ResourceFormatError("nested too deeply") from exc


def check_container(document: Any) -> Any:
    """`document` if it is a mapping, a list or empty; a bare scalar has no keys to translate."""
    if document is not None and not isinstance(document, MutableMapping | MutableSequence):
        raise ResourceFormatError("top level must be a mapping or a list")
    return document


def dotted(path: Path) -> str:
    return ".".join(str(part) for part in path)


def string_leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(path, text) of every string leaf in document order; each container is visited once.

    Visiting once keeps YAML aliases (one object reachable by many paths) linear, so an
    "alias bomb" cannot blow up, and translating the anchor translates every alias with it.
    """
    yield from _leaves(node, path, set())


def _leaves(node: Any, path: Path, seen: set[int]) -> Iterator[tuple[Path, str]]:
    if isinstance(node, str):
        yield path, node
        return
    if not isinstance(node, MutableMapping | MutableSequence) or id(node) in seen:
        return
    seen.add(id(node))
    items = _own_items(node) if isinstance(node, MutableMapping) else enumerate(node)
    for key, child in items:
        yield from _leaves(child, (*path, key), seen)


def _own_items(node: MutableMapping[Any, Any]) -> Any:
    """Items of a mapping, without those a YAML merge key (`<<: *base`) brought in.

    Merged keys belong to the anchored mapping, which is translated where it is defined.
    """
    own = getattr(node, "non_merged_items", None)  # ruamel.yaml's CommentedMap
    return own() if callable(own) else node.items()


def replace_at(root: Any, path: Path, text: str) -> None:
    """Set the leaf at `path`, keeping the old value's string subclass (YAML quoting style)."""
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    old = parent[path[-1]]
    parent[path[-1]] = text if type(old) is str else type(old)(text)


class TreeFormat:
    """A format whose document is a tree of mappings and lists: each unit is a string leaf at
    a path; merge writes the translations at their paths and dumps the document again.

    A format says how to load and dump its documents and which leaves are units (`_located`),
    and may touch the document up after the texts are replaced (`_finish`: plurals, locale)."""

    name: str

    def extract(self, content: bytes) -> list[Unit]:
        with depth_guard():
            document, _ = self._load(content)
            return check_unique(unit for unit, _ in self._located(document))

    def merge(self, content: bytes, translations: Mapping[str, str], target_lang: str) -> bytes:
        with depth_guard():
            document, bom = self._load(content)
            located = self._located(document)
            check_unique(unit for unit, _ in located)
            paths = {unit.id: path for unit, path in located}
            check_known(translations, paths)
            for unit_id, text in translations.items():
                replace_at(document, paths[unit_id], text)
            document = self._finish(document, target_lang)
            return encode_utf8(self._dump(document, content), bom)

    def _load(self, content: bytes) -> tuple[Any, bool]:
        """The document (checked to be a container) and whether the file had a BOM."""
        raise NotImplementedError

    def _dump(self, document: Any, original: bytes) -> str:
        """The document as text, in the layout of `original` where the format can."""
        raise NotImplementedError

    def _located(self, document: Any) -> Located:
        """Every unit of the document and the path of its leaf."""
        return [
            (Unit(id=dotted(path), text=text), path)
            for path, text in string_leaves(document)
            if text.strip()
        ]

    def _finish(self, document: Any, target_lang: str) -> Any:
        return document
