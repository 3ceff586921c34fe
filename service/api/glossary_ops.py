"""What the REST routes and the web console both do to a glossary, written once.

Each function takes the caller's session (for the store's functions) and raises `Problem` for
what the caller did wrong, so the two front ends share lookups, validation, saving (with its
`glossary.updated` event) and export, and neither can be weaker than the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.api.glossary_input import TERM_PATTERN, EntryIn, parse_document
from service.api.problems import Problem, not_found
from service.config import Settings
from service.glossary.export import export_csv, export_tbx
from service.glossary.limits import GlossaryLimits
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.store import glossaries as repository
from service.store.db import Session
from service.store.glossaries import (
    ConcurrentVersion,
    Saved,
    delete_and_announce,
    save_and_announce,
)
from service.store.tables import Glossary

ExportFormat = Literal["csv", "tbx"]
Kick = Callable[[], None]  # wakes the outbox relay, so an event leaves now, not at its next poll


def no_kick() -> None:
    """For callers without a relay (its next poll sends the event)."""


class EntriesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    upsert: list[EntryIn] = Field(default_factory=list, description="Added or replaced by term")
    delete: list[Annotated[str, Field(pattern=TERM_PATTERN)]] = Field(
        default_factory=list,
        description="Terms to remove; a term the glossary does not have answers 409",
    )


@dataclass(frozen=True)
class Export:
    body: bytes | str
    media_type: str
    filename: str


def limits_of(settings: Settings) -> GlossaryLimits:
    return GlossaryLimits(
        max_file_bytes=settings.glossary_max_file_bytes,
        max_entries=settings.glossary_max_entries,
        max_entry_bytes=settings.glossary_max_entry_bytes,
    )


async def find(session: Session, tenant: str, ref: str) -> Glossary:
    """A live glossary of the tenant by name or id; another tenant's answers 404 too."""
    found = await repository.find(session, tenant, ref)
    if found is None:
        raise not_found("glossary")
    return found


async def save(
    session: Session,
    settings: Settings,
    *,
    tenant: str,
    name: str,
    doc: GlossaryDocument,
    author: str,
    is_default: bool | None,
    kick: Kick,
) -> Saved:
    """Save a version (and its event) and commit; `kick` wakes the outbox relay."""
    try:
        saved = await save_and_announce(
            session,
            topic=settings.topic_glossary_events,
            tenant_id=tenant,
            name=name,
            doc=doc,
            author=author,
            is_default=is_default,
        )
    except ConcurrentVersion:
        # Another writer made the same version number first; the client may simply retry.
        raise Problem(409, "Conflict", "the glossary changed concurrently; retry") from None
    kick()
    return saved


async def patch(
    session: Session,
    settings: Settings,
    glossary: Glossary,
    body: EntriesPatch,
    *,
    author: str,
    kick: Kick,
) -> Saved:
    """Apply a patch to the current version; the result is validated like any upload."""
    current = await repository.document(session, glossary, glossary.current_version)
    doc = patched(current, body, limits_of(settings))
    return await save(
        session,
        settings,
        tenant=glossary.tenant_id,
        name=glossary.name,
        doc=doc,
        author=author,
        is_default=None,
        kick=kick,
    )


def patched(
    current: GlossaryDocument, patch: EntriesPatch, limits: GlossaryLimits
) -> GlossaryDocument:
    """Apply deletes, then upserts by term key; the result is validated like any upload."""
    entries = {e.key: e for e in current.entries}
    missing = []
    for i, term in enumerate(patch.delete):
        key = next((k for k, e in entries.items() if e.term == term or k == term.casefold()), None)
        if key is None:
            missing.append({"field": f"body.delete.{i}", "message": f"no entry {term!r}"})
        else:
            del entries[key]
    if missing:  # the glossary's state, not the request's form, is at odds: 409 like a PUT's
        raise Problem(409, "Conflict", "unknown terms to delete", errors=missing)
    for item in patch.upsert:
        entry = GlossaryEntry(**item.model_dump())
        entries[entry.key] = entry
    document = {
        "source_lang": current.source_lang,
        "entries": [e.canonical() for e in entries.values()],
    }
    return parse_document(
        json.dumps(document, ensure_ascii=False).encode(),
        filename="patch.json",
        content_type="application/json",
        source_lang=None,
        target_lang=None,
        limits=limits,
    ).document


async def export(
    session: Session, glossary: Glossary, fmt: ExportFormat, version: int | None
) -> Export:
    number = version or glossary.current_version
    if await repository.version(session, glossary.id, number) is None:
        raise not_found("version")
    doc = await repository.document(session, glossary, number)
    if fmt == "csv":
        return Export(export_csv(doc), "text/csv; charset=utf-8", f"{glossary.name}-v{number}.csv")
    return Export(export_tbx(doc), "application/x-tbx", f"{glossary.name}-v{number}.tbx")


async def delete(session: Session, settings: Settings, glossary: Glossary, kick: Kick) -> None:
    current = await repository.version(session, glossary.id, glossary.current_version)
    await delete_and_announce(
        session, topic=settings.topic_glossary_events, glossary=glossary, version=current
    )
    kick()


async def set_default(session: Session, glossary: Glossary, is_default: bool = True) -> None:
    """Make it the tenant's default (clearing the previous one), or stop it being the default."""
    await repository.make_default(session, glossary, is_default)
