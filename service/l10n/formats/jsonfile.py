"""JSON resource files: flat or nested key/value JSON, i18next v4 JSON, and Flutter ARB.

The standard library parses and writes them: key order and nesting survive a load/dump round
trip, and the indentation of the input is detected and reused. JSON has no comments to keep.
"""

from __future__ import annotations

import json
import re
from typing import Any

from service.l10n import plurals
from service.l10n.formats.model import ResourceFormatError, Unit
from service.l10n.formats.tree import Located, Path, TreeFormat, check_container, decode_utf8

#: i18next v4 plural keys: "<base>_<category>"; "_ordinal_<category>" keys are left alone.
_PLURAL_KEY = re.compile(r"^(?P<base>.+?)(?<!_ordinal)_(?P<cat>zero|one|two|few|many|other)$")


class JsonFormat(TreeFormat):
    """Flat or nested JSON: every non-empty string leaf, id = dotted key path."""

    name = "json"

    def _load(self, content: bytes) -> tuple[Any, bool]:
        return _load(content)

    def _dump(self, document: Any, original: bytes) -> str:
        return _dump(document, original)


class I18nextFormat(JsonFormat):
    """i18next JSON v4: as JSON, with `key_one`/`key_other` groups re-cut to the target's forms."""

    name = "i18next"

    def _located(self, document: Any) -> Located:
        units = super()._located(document)
        return [(_with_plural(unit, path), path) for unit, path in units]

    def _finish(self, document: Any, target_lang: str) -> Any:
        return _reshape_plurals(document, target_lang)


class ArbFormat(JsonFormat):
    """Flutter ARB: top-level string values; `@key` metadata and `@@` globals kept verbatim.

    The `@key` description becomes the unit's note, its `context` the unit's context, and
    `@@locale` is set to the target language.
    """

    name = "arb"

    def _located(self, document: Any) -> Located:
        if not isinstance(document, dict):
            raise ResourceFormatError("ARB: top level must be a JSON object")
        return [
            (_arb_unit(document, key, text), (key,))
            for key, text in document.items()
            if not key.startswith("@") and isinstance(text, str) and text.strip()
        ]

    def _finish(self, document: Any, target_lang: str) -> Any:
        if "@@locale" in document:
            document["@@locale"] = target_lang
            return document
        return {"@@locale": target_lang, **document}


def _arb_unit(document: dict[str, Any], key: str, text: str) -> Unit:
    meta = document.get(f"@{key}")
    if not isinstance(meta, dict):
        return Unit(id=key, text=text)
    note, context = meta.get("description"), meta.get("context")
    return Unit(
        id=key,
        text=text,
        note=note if isinstance(note, str) else None,
        context=context if isinstance(context, str) else None,
    )


def _with_plural(unit: Unit, path: Path) -> Unit:
    match = _PLURAL_KEY.match(str(path[-1]))
    if match is None:
        return unit
    return Unit(id=unit.id, text=unit.text, plural=match["cat"])


def _reshape_plurals(node: Any, target_lang: str) -> Any:
    """Every object's plural groups (those with an `_other` key) re-cut to the target's forms."""
    if isinstance(node, list):
        return [_reshape_plurals(child, target_lang) for child in node]
    if not isinstance(node, dict):
        return node
    groups = _plural_groups(node)
    result: dict[str, Any] = {}
    done: set[str] = set()
    for key, value in node.items():
        match = _PLURAL_KEY.match(key)
        base = match["base"] if match is not None else ""
        if base not in groups:
            result[key] = _reshape_plurals(value, target_lang)
        elif base not in done:  # the group's first key: all its target forms go here
            done.add(base)
            forms = plurals.reshape(groups[base], target_lang)
            result.update({f"{base}_{category}": text for category, text in forms.items()})
    return result


def _plural_groups(node: dict[str, Any]) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for key, value in node.items():
        match = _PLURAL_KEY.match(key)
        if match is not None and isinstance(value, str):
            groups.setdefault(match["base"], {})[match["cat"]] = value
    return {base: forms for base, forms in groups.items() if "other" in forms}


def _load(content: bytes) -> tuple[Any, bool]:
    text, bom = decode_utf8(content)
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ResourceFormatError(f"invalid JSON at {where}: {exc.msg}") from exc
    return check_container(document), bom


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ResourceFormatError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _dump(document: Any, original: bytes) -> str:
    """JSON in the layout of `original`: its indentation (or none) and its final newline."""
    indent = re.search(rb"\n([ \t]+)\S", original)
    if indent is None:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    else:
        unit = indent.group(1)
        text = json.dumps(
            document, ensure_ascii=False, indent="\t" if unit.startswith(b"\t") else len(unit)
        )
    return text + "\n" if original.rstrip(b" \t").endswith(b"\n") else text
