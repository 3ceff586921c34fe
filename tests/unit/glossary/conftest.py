from __future__ import annotations

from pathlib import Path

import pytest

from service.glossary.limits import GlossaryLimits
from service.glossary.model import GlossaryDocument
from service.glossary.parse import parse_upload
from service.glossary.problems import GlossaryInvalid, Problem

DATA = Path(__file__).parents[2] / "data" / "glossary"
REPO = Path(__file__).parents[3]


def parse(
    content: bytes,
    filename: str | None = "upload.csv",
    *,
    content_type: str | None = None,
    source_lang: str | None = None,
    target_lang: str | None = None,
    limits: GlossaryLimits | None = None,
    encoding: str | None = None,
) -> GlossaryDocument:
    return parse_upload(
        content,
        filename=filename,
        content_type=content_type,
        source_lang=source_lang,
        target_lang=target_lang,
        limits=limits or GlossaryLimits(),
        encoding=encoding,
    ).document


def parse_file(name: str, **kwargs: object) -> GlossaryDocument:
    return parse((DATA / name).read_bytes(), name, **kwargs)  # type: ignore[arg-type]


def problems(
    content: bytes, filename: str | None = "upload.csv", **kwargs: object
) -> list[Problem]:
    with pytest.raises(GlossaryInvalid) as caught:
        parse(content, filename, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def only(found: list[Problem], code: str) -> Problem:
    matching = [p for p in found if p.code == code]
    assert len(matching) == 1, found
    return matching[0]
