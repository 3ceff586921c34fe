"""Localization resource files: extract translatable units, merge translations back.

    fmt = get_format(detect_format(filename, content) or "json")
    units = fmt.extract(content)
    translated = fmt.merge(content, {u.id: translate(u.text) for u in units}, "de")

Formats, libraries, id scheme and what is preserved: docs/l10n-formats.md.
"""

from __future__ import annotations

import re

from service.l10n.formats.android import AndroidFormat
from service.l10n.formats.applestrings import AppleStringsFormat
from service.l10n.formats.jsonfile import ArbFormat, I18nextFormat, JsonFormat
from service.l10n.formats.model import ResourceFormat, ResourceFormatError, Unit
from service.l10n.formats.po import PoFormat
from service.l10n.formats.xliff import NS12, NS20, XLIFF12, XLIFF20
from service.l10n.formats.yamlfile import YamlFormat

__all__ = [
    "FORMATS",
    "ResourceFormat",
    "ResourceFormatError",
    "Unit",
    "detect_format",
    "get_format",
]

FORMATS: dict[str, ResourceFormat] = {
    fmt.name: fmt
    for fmt in (
        JsonFormat(),
        I18nextFormat(),
        ArbFormat(),
        PoFormat(),
        XLIFF12,
        XLIFF20,
        AndroidFormat(),
        AppleStringsFormat(),
        YamlFormat(),
    )
}

_BY_EXTENSION = {
    "po": "po",
    "pot": "po",
    "arb": "arb",
    "strings": "apple-strings",
    "yml": "yaml",
    "yaml": "yaml",
}
_I18NEXT_PLURAL = re.compile(rb'"[^"]+_(?:zero|one|two|few|many|other)"\s*:')
_PO_ENTRY = re.compile(rb"^msgid\s", re.MULTILINE)
_STRINGS_ENTRY = re.compile(rb'^\s*"(?:[^"\\]|\\.)*"\s*=\s*"', re.MULTILINE)
_XML_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_YAML_KEY = re.compile(rb"^[\w\"'.-]+:(?:\s|$)", re.MULTILINE)


def get_format(name: str) -> ResourceFormat:
    """The format called `name`; ResourceFormatError lists the known names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ResourceFormatError(f"unknown format {name!r}; known: {sorted(FORMATS)}") from None


def detect_format(filename: str | None, content: bytes) -> str | None:
    """The format name from the file's extension, else from a look at its content; or None.

    Content is only pattern-matched here, never parsed, so detection is safe on hostile input.
    """
    extension = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if extension in _BY_EXTENSION:
        return _BY_EXTENSION[extension]
    head = content.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")
    if extension == "json" or head.startswith((b"{", b"[")):
        return _json_kind(content)
    if extension in ("xml", "xlf", "xliff") or head.startswith(b"<"):
        return _xml_kind(content)
    if _PO_ENTRY.search(content):
        return "po"
    if _STRINGS_ENTRY.search(content):
        return "apple-strings"
    return "yaml" if _YAML_KEY.search(content) else None


def _json_kind(content: bytes) -> str:
    if b'"@@locale"' in content:
        return "arb"
    return "i18next" if _I18NEXT_PLURAL.search(content) else "json"


def _xml_kind(content: bytes) -> str | None:
    root = _ROOT_TAG.search(_XML_COMMENT.sub(b"", content))
    name = root.group(1).rsplit(b":", 1)[-1] if root else b""
    if name == b"resources":
        return "android"
    if name != b"xliff":
        return None
    return (
        "xliff20" if NS20.encode() in content else "xliff12" if NS12.encode() in content else None
    )
