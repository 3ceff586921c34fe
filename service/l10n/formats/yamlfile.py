"""YAML resource files (Rails i18n style and plain nested YAML), with ruamel.yaml round-trip.

ruamel.yaml's round-trip mode keeps comments, key order, anchors and each scalar's quoting
style. Extracted: every non-empty string scalar; id = dotted key path as in JSON. A mapping
whose keys are CLDR plural categories including `other` (Rails: `count: {one: .., other: ..}`)
is a plural: its units carry the category, and merge re-cuts it to the target's forms. A document
whose only top-level key is a locale whose value is a mapping (Rails: `en: {...}`) has that key
renamed to the target language on merge; ids keep the source key ("en.greeting").
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from service.l10n import plurals
from service.l10n.formats.model import ResourceFormatError, Unit
from service.l10n.formats.tree import (
    Located,
    TreeFormat,
    check_container,
    decode_utf8,
    dotted,
    string_leaves,
)


class YamlFormat(TreeFormat):
    name = "yaml"

    def _load(self, content: bytes) -> tuple[Any, bool]:
        return _load(content)

    def _dump(self, document: Any, original: bytes) -> str:
        return _dump(document, original)

    def _located(self, document: Any) -> Located:
        return [
            (Unit(id=dotted(path), text=text, plural=_plural_category(document, path)), path)
            for path, text in string_leaves(document)
            if text.strip()
        ]

    def _finish(self, document: Any, target_lang: str) -> Any:
        for mapping in _plural_mappings(document, set()):
            _reshape(mapping, target_lang)
        _rename_locale_root(document, target_lang)
        return document


def _yaml() -> YAML:
    yaml = YAML(typ="rt")  # round-trip: builds only plain data, never arbitrary Python objects
    yaml.preserve_quotes = True
    yaml.width = 4096  # do not re-wrap long translated lines
    return yaml


def _load(content: bytes) -> tuple[Any, bool]:
    text, bom = decode_utf8(content)
    try:
        document = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ResourceFormatError(f"invalid YAML{line}: {exc.problem or exc.context}") from exc
    except YAMLError as exc:
        raise ResourceFormatError(f"invalid YAML: {exc}") from exc
    return check_container(document), bom


def _is_plural(node: Any) -> TypeGuard[CommentedMap]:
    return (
        isinstance(node, CommentedMap)
        and "other" in node
        and len(node) > 1
        and all(key in plurals.CLDR_ORDER and isinstance(v, str) for key, v in node.items())
    )


def _plural_category(document: Any, path: tuple[Any, ...]) -> str | None:
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    return str(path[-1]) if _is_plural(parent) else None


def _plural_mappings(node: Any, seen: set[int]) -> Iterator[CommentedMap]:
    if not isinstance(node, CommentedMap | CommentedSeq) or id(node) in seen:
        return
    seen.add(id(node))
    if _is_plural(node):
        yield node
        return
    for child in node.values() if isinstance(node, CommentedMap) else node:
        yield from _plural_mappings(child, seen)


def _reshape(node: CommentedMap, target_lang: str) -> None:
    """Give a plural mapping exactly the target's categories, in CLDR order."""
    forms = plurals.reshape(dict(node), target_lang)
    for key in [key for key in node if key not in forms]:
        del node[key]
    for index, (category, text) in enumerate(forms.items()):
        if category not in node:
            node.insert(index, category, type(text)(text))


def _rename_locale_root(document: Any, target_lang: str) -> None:
    if not isinstance(document, CommentedMap) or len(document) != 1:
        return
    (key,) = document.keys()
    if not isinstance(key, str) or plurals.parse_locale(key) is None:
        return
    if not isinstance(document[key], Mapping) or key == target_lang:
        return
    document.insert(0, target_lang, document.pop(key))
    if key in document.ca.items:  # the comment attached to the old key moves with it
        document.ca.items[target_lang] = document.ca.items.pop(key)


def _dump(document: Any, original: bytes) -> str:
    yaml = _yaml()
    yaml.explicit_start = original.lstrip().startswith(b"---")
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()
