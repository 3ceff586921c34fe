"""JSON Schema files of the event contract, generated from the models (`python -m
service.pipeline.contract.schemas docs/schemas` rewrites them; a test keeps the committed ones
current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from service.glossary.events import GlossaryUpdatedV1
from service.pipeline.contract.messages import (
    DeadLetterV1,
    TranslationCompletedV1,
    TranslationFailedV1,
    TranslationRequestV1,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "translation-request.v1.json": TranslationRequestV1,
    "translation-completed.v1.json": TranslationCompletedV1,
    "translation-failed.v1.json": TranslationFailedV1,
    "dead-letter.v1.json": DeadLetterV1,
    "glossary-updated.v1.json": GlossaryUpdatedV1,
}


def render(model: type[BaseModel]) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in SCHEMAS.items():
        (folder / name).write_text(render(model))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"))
