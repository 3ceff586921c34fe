"""Reading a glossary from a request: a multipart file upload or JSON entries, one validation path.

Both forms go through `parse_glossary`, so a JSON body is checked by exactly the rules a file is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from fastapi import Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from starlette.datastructures import FormData, UploadFile

from service.api.problems import Problem
from service.glossary.encoding import codec_name
from service.glossary.limits import GlossaryLimits
from service.glossary.model import GLOSSARY_SOURCE_LANGS, GlossaryDocument
from service.glossary.parse import Parsed, parse_upload
from service.glossary.problems import PROBLEM_TYPE, GlossaryInvalid
from service.languages import TARGET_LANGS

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
# An uploaded file's name: no directory part, no control character, not "." or "..".
FILENAME_PATTERN = r"^(?!\.{1,2}$)[^/\\\x00-\x1f\x7f]{1,255}$"
# A codec name (`cp1252`, `shift_jis`, `utf-16`); whether Python knows it is checked after.
ENCODING_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,39}$"


# What the glossary validation refuses, stated in the schema too (schemathesis checks that the
# OpenAPI document admits nothing the server refuses, and the other way round): no C0/C1
# control character but tab and line breaks, and a term or translation not blank.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
NOTE_PATTERN = rf"^[^{_CONTROL}]*$"
TERM_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
_SOURCE_LANGS = sorted(GLOSSARY_SOURCE_LANGS)
_TARGET_LANGS = sorted(TARGET_LANGS)
_TRUE = {"const": True}


def _entry_schema(schema: dict[str, Any]) -> None:
    """The rules between an entry's fields, as JSON Schema (`EntryIn.check_flags` enforces
    them): not both do_not_translate and forbidden; a translation unless one of them."""
    dnt = {"required": ["do_not_translate"], "properties": {"do_not_translate": _TRUE}}
    forbidden = {"required": ["forbidden"], "properties": {"forbidden": _TRUE}}
    schema["allOf"] = [
        {"not": {"allOf": [dnt, forbidden]}},
        {
            "if": {"not": {"anyOf": [dnt, forbidden]}},
            "then": {
                "required": ["translations"],
                "properties": {"translations": {"minProperties": 1}},
            },
        },
    ]


def _text(value: str, name: str, *, blank_ok: bool = False) -> str:
    """The patterns above, checked with messages a person can act on."""
    if not blank_ok and not value.strip():
        raise ValueError(f"the {name} is empty")
    if re.search(f"[{_CONTROL}]", value):
        raise ValueError(f"the {name} contains a control character")
    return value


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_entry_schema)

    term: str = Field(
        description="The term in the glossary's source language",
        json_schema_extra={"pattern": TERM_PATTERN},
    )
    translations: dict[
        Annotated[str, Field(json_schema_extra={"enum": _TARGET_LANGS})],
        Annotated[str, Field(json_schema_extra={"pattern": TERM_PATTERN})],
    ] = Field(default_factory=dict, description="language → text (Z.ai's target codes)")
    case_sensitive: bool = False
    do_not_translate: bool = False
    forbidden: bool = False
    note: str | None = Field(default=None, json_schema_extra={"pattern": NOTE_PATTERN})

    @field_validator("term")
    @classmethod
    def check_term(cls, value: str) -> str:
        return _text(value, "source term")

    @field_validator("note")
    @classmethod
    def check_note(cls, value: str | None) -> str | None:
        return value if value is None else _text(value, "note", blank_ok=True)

    @field_validator("translations")
    @classmethod
    def known_languages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - TARGET_LANGS)
        if unknown:
            raise ValueError(f"unknown target language(s) {unknown}; use Z.ai's target codes")
        for lang, text in value.items():
            _text(text, f"{lang} translation")
        return value

    @model_validator(mode="after")
    def check_flags(self) -> Self:
        if self.do_not_translate and self.forbidden:
            raise ValueError("an entry cannot be both do_not_translate and forbidden")
        if not (self.do_not_translate or self.forbidden or self.translations):
            raise ValueError("an entry needs a translation unless do_not_translate or forbidden")
        return self


class GlossaryJsonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as the schema says

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    source_lang: Literal[tuple(_SOURCE_LANGS)]  # type: ignore[valid-type]
    is_default: bool | None = None
    entries: list[EntryIn] = Field(min_length=1)


@dataclass(frozen=True)
class Upload:
    name: str | None
    is_default: bool | None
    doc: GlossaryDocument
    encoding: str | None = None  # what a CSV/TSV was read in (service.glossary.encoding)


JSON_EXAMPLE: dict[str, Any] = {
    "name": "brand",
    "source_lang": "en",
    "is_default": False,
    "entries": [
        {"term": "Acme Cloud", "do_not_translate": True},
        {"term": "invoice", "translations": {"de": "Rechnung", "fr": "facture"}},
    ],
}


def _json_body_schema(name_required: bool) -> dict[str, Any]:
    # Pydantic's own `#/$defs/...` references would not resolve inside the OpenAPI document; the
    # entry model is among its components already (the PATCH body uses it).
    schema = GlossaryJsonIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    if name_required:
        schema["required"] = ["name", *schema["required"]]
        schema["properties"]["name"] = {"type": "string", "pattern": NAME_PATTERN}
    return schema


def request_body_doc(*, name_required: bool = False) -> dict[str, Any]:
    """OpenAPI description of the two accepted bodies (the route reads the request itself);
    creating one needs its `name`, replacing one takes it from the path."""
    multipart = {
        "type": "object",
        "required": ["file", "name"] if name_required else ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "name": {"type": "string", "pattern": NAME_PATTERN},
            "source_lang": {"type": "string"},
            "target_lang": {"type": "string"},
            "is_default": {"type": "boolean"},
            "encoding": {
                "type": "string",
                "pattern": ENCODING_PATTERN,
                "description": "Text encoding of a CSV/TSV (e.g. `cp1252`, `shift_jis`); "
                "default: UTF-8, or else detected",
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": multipart},
                "application/json": {
                    "schema": _json_body_schema(name_required),
                    "example": JSON_EXAMPLE,
                },
            },
        }
    }


def check_declared_size(request: Request, limits: GlossaryLimits) -> None:
    """Refuse a body declared larger than a glossary may be, before reading any of it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_file_bytes + 64 * 1024:
        raise Problem(413, "Content Too Large", f"the limit is {limits.max_file_bytes} bytes")


async def read_upload(request: Request, limits: GlossaryLimits) -> Upload:
    check_declared_size(request, limits)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _from_multipart(request, limits)
    if content_type.startswith("application/json"):
        return _from_json(await request.body(), limits)
    raise Problem(
        415, "Unsupported Media Type", "send multipart/form-data (a file) or application/json"
    )


async def _from_multipart(request: Request, limits: GlossaryLimits) -> Upload:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart bodies surface as various parser errors
        raise Problem(400, "Bad Request", f"unreadable multipart body: {exc}") from None
    try:
        return await _from_form(form, limits)
    finally:
        await form.close()  # releases the spooled temporary files


async def _from_form(form: FormData, limits: GlossaryLimits) -> Upload:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise _invalid_field("body.file", "a file part named 'file' is required")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    name = fields.get("name") or None
    if name is not None and not re.fullmatch(NAME_PATTERN, name):
        raise _invalid_field("body.name", f"expected a name matching {NAME_PATTERN}")
    if file.filename is not None and not re.fullmatch(FILENAME_PATTERN, file.filename):
        # Only its extension is read, but a path or control character in it is a client
        # error, or an attack, worth saying so before anything else uses the name.
        raise _invalid_field("body.file", "the file name must be a plain name, not a path")
    content = await file.read(limits.max_file_bytes + 1)
    parsed = parse_document(
        content,
        filename=file.filename,
        content_type=file.content_type,
        source_lang=fields.get("source_lang") or None,
        target_lang=fields.get("target_lang") or None,
        limits=limits,
        encoding=_encoding(fields.get("encoding") or None),
    )
    return Upload(name, _flag(fields.get("is_default")), parsed.document, parsed.encoding)


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    known = codec_name(name) if re.fullmatch(ENCODING_PATTERN, name) else None
    if known is None:
        raise _invalid_field("body.encoding", f"{name[:40]!r} is not a known text encoding")
    return known


def _from_json(raw: bytes, limits: GlossaryLimits) -> Upload:
    try:
        body = GlossaryJsonIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(["body", *map(str, e["loc"])]), "message": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise Problem(
            422, "Unprocessable Content", "the request is invalid", errors=errors
        ) from None
    document = {
        "source_lang": body.source_lang,
        "entries": [e.model_dump() for e in body.entries],
    }
    parsed = parse_document(
        json.dumps(document, ensure_ascii=False).encode(),
        filename="body.json",
        content_type="application/json",
        source_lang=None,
        target_lang=None,
        limits=limits,
    )
    return Upload(body.name, body.is_default, parsed.document)


def parse_document(content: bytes, **kwargs: Any) -> Parsed:
    try:
        return parse_upload(content, **kwargs)
    except GlossaryInvalid as exc:
        raise glossary_problem(exc) from None


def glossary_problem(exc: GlossaryInvalid) -> Problem:
    details = exc.to_problem_details()
    return Problem(
        422, details["title"], details["detail"], type_=PROBLEM_TYPE, errors=details["errors"]
    )


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise _invalid_field("body.is_default", "expected true or false")


def _invalid_field(field: str, message: str) -> Problem:
    return Problem(
        422, "Unprocessable Content", message, errors=[{"field": field, "message": message}]
    )
