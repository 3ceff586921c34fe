"""The `glossary.updated` event: published on every glossary change (the contract; pure)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

GLOSSARY_UPDATED = "glossary.updated"
_NS = uuid.UUID("0c8f3e4e-7a55-4b7e-9d4a-52c1f0b2a9d3")


class GlossaryUpdatedV1(BaseModel):
    """Published on every glossary change; `deleted` marks a soft delete."""

    type: Literal["glossary.updated"] = "glossary.updated"
    tenant_id: str
    glossary_id: str
    name: str
    version: int
    content_hash: str | None
    entry_count: int | None
    languages: list[str]
    deleted: bool


def glossary_event_id(glossary_id: str, version: int, *, deleted: bool) -> str:
    """Stable per (glossary, version, action), so a re-sent event dedupes."""
    action = "deleted" if deleted else "version"
    return str(uuid.uuid5(_NS, f"{glossary_id}\x1f{version}\x1f{action}"))
