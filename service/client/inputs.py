"""What `zai-l10n translate` sends: one request per resource file, or one for a text.

source = read_file(Path("locale/messages.po"))   # InputError says what is wrong
request = build_request(source, request_id="cli-…", tenant="acme", targets=["de"], ...)
output_name("messages.po", "de") == "messages.de.po"
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.l10n.formats import ResourceFormatError
from service.pipeline.contract.messages import ResourceFile, TranslationRequestV1
from service.pipeline.contract.resource import open_file


class InputError(Exception):
    """A file, text or option the service would refuse; the message says which and why."""


@dataclass(frozen=True)
class Source:
    label: str  # what the user named: a path, or "text"
    file: ResourceFile | None = None
    text: str | None = None
    units: int = 1


def read_file(path: Path) -> Source:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    file = ResourceFile(filename=path.name, content_b64=base64.b64encode(content).decode())
    try:
        opened = open_file(file)  # the worker's own check: format, syntax, units
    except ResourceFormatError as exc:
        raise InputError(
            f"{path} is not a resource file the service can translate ({exc}); it reads JSON, "
            "i18next, ARB, PO, XLIFF 1.2/2.0, Android strings.xml, Apple .strings and YAML"
        ) from None
    if not opened.units:
        raise InputError(f"{path} has no text to translate")
    return Source(
        str(path),
        file=file.model_copy(update={"format": opened.format.name}),
        units=len(opened.units),
    )


def read_text(text: str) -> Source:
    if not text.strip():
        raise InputError("the text to translate is empty")
    return Source("text", text=text)


def build_request(
    source: Source,
    *,
    request_id: str,
    tenant: str,
    targets: list[str],
    source_lang: str,
    glossary: str | None,
    strategy: str,
) -> TranslationRequestV1:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "tenant_id": tenant,
        "source_lang": source_lang,
        "target_langs": targets,
        "strategy": strategy,
        "glossary": glossary,
        "metadata": {"origin": "zai-l10n translate", "source": source.label},
    }
    if source.file is not None:
        fields["file"] = source.file
    else:
        fields["text"] = source.text
    try:
        return TranslationRequestV1(**fields)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
        raise InputError(problems) from None


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    names = {"tenant_id": "--tenant", "target_langs": "--to", "source_lang": "--from"}
    option = names.get(where.split(".")[0], where)
    return f"{option}: {error['msg'].removeprefix('Value error, ')}" if where else error["msg"]


def output_name(filename: str, lang: str) -> str:
    """`messages.po` → `messages.de.po`, `strings.xml` → `strings.fr.xml`."""
    stem, dot, suffix = filename.rpartition(".")
    return f"{stem}.{lang}.{suffix}" if dot and stem else f"{filename}.{lang}"
