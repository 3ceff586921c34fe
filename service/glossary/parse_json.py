"""JSON glossaries (schema in docs/glossaries.md):

    {"source_lang": "en",
     "entries": [{"term": "invoice", "translations": {"de": "Rechnung"},
                  "case_sensitive": false, "do_not_translate": false, "forbidden": false,
                  "note": null}]}

Only `term` is required per entry. Each entry is validated on its own so one bad entry does not
hide the problems of the others; `row` in problems is the 1-based index in `entries`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from service.glossary.limits import GlossaryLimits
from service.glossary.model import (
    RawEntry,
    RawGlossary,
    resolve_lang,
    unknown_lang_message,
)
from service.glossary.parse_csv import decode_utf8
from service.glossary.problems import Code, ProblemCollector, Where


class JsonEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    term: str
    translations: dict[str, str] = {}
    case_sensitive: bool = False
    do_not_translate: bool = False
    forbidden: bool = False
    note: str | None = None


class JsonGlossary(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    source_lang: str | None = None
    entries: list[Any]


def parse_json(
    content: bytes,
    source_lang: str | None,
    target_lang: str | None,
    problems: ProblemCollector,
    limits: GlossaryLimits,
) -> RawGlossary:
    document = _load(decode_utf8(content, problems), problems)
    source = _source_lang(document.source_lang, source_lang, problems)
    entries: list[RawEntry] = []
    for row, item in enumerate(document.entries, start=1):
        if row > limits.max_entries:
            problems.add(Code.TOO_MANY_ENTRIES, f"more than {limits.max_entries} entries", row=row)
            break
        if problems.full:
            break
        entry = _entry(row, item, problems)
        if entry is not None:
            entries.append(entry)
    return RawGlossary(source, entries)


def _load(text: str, problems: ProblemCollector) -> JsonGlossary:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise problems.fail(Code.MALFORMED_JSON, msg, row=exc.lineno) from exc
    except RecursionError as exc:
        raise problems.fail(Code.MALFORMED_JSON, "JSON is nested too deeply") from exc
    try:
        return JsonGlossary.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = _path(error["loc"])
            problems.add(Code.INVALID_FIELD, f"{path}: {error['msg']}", field=path)
        expected = 'expected {"source_lang": ..., "entries": [...]}'
        raise problems.fail(Code.MALFORMED_JSON, expected) from exc


def _source_lang(
    declared: str | None, requested: str | None, problems: ProblemCollector
) -> str | None:
    if declared is None:
        if requested is None:
            problems.add(Code.MISSING_LANGUAGE, "no source_lang in the file or the request")
        return requested
    lang = resolve_lang(declared, source=True)
    if lang is None:
        msg = unknown_lang_message(declared, source=True)
        problems.add(Code.UNKNOWN_LANGUAGE, msg, field="source_lang")
    elif requested is not None and lang != requested:
        msg = f"the file declares source {lang!r} but {requested!r} was requested"
        problems.add(Code.LANGUAGE_MISMATCH, msg, field="source_lang")
    return lang


def _entry(row: int, item: Any, problems: ProblemCollector) -> RawEntry | None:
    try:
        entry = JsonEntry.model_validate(item)
    except ValidationError as exc:
        for error in exc.errors():
            path = _path(("entries", row - 1, *error["loc"]))
            problems.add(Code.INVALID_FIELD, f"{path}: {error['msg']}", row=row, field=path)
        return None
    translations: dict[str, str] = {}
    for declared, text in entry.translations.items():
        lang = resolve_lang(declared, source=False)
        where: Where = {"row": row, "field": f"translations.{declared}"}
        if lang is None:
            problems.add(
                Code.UNKNOWN_LANGUAGE, unknown_lang_message(declared, source=False), **where
            )
        elif lang in translations:
            problems.add(Code.DUPLICATE_COLUMN, f"language {lang!r} appears twice", **where)
        else:
            translations[lang] = text
    return RawEntry(
        row,
        entry.term,
        tuple(translations.items()),
        case_sensitive=entry.case_sensitive,
        do_not_translate=entry.do_not_translate,
        forbidden=entry.forbidden,
        note=entry.note,
    )


def _path(loc: tuple[int | str, ...]) -> str:
    """("entries", 2, "term") → "entries[2].term"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path
