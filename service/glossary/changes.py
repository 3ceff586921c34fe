"""Record a glossary change and announce it (a `glossary.updated` event in the same transaction)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary import repository
from service.glossary.model import GlossaryDocument
from service.outbox import enqueue
from service.store.tables import Glossary, GlossaryVersion

GLOSSARY_UPDATED = "glossary.updated"


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


_NS = uuid.UUID("0c8f3e4e-7a55-4b7e-9d4a-52c1f0b2a9d3")


async def save_and_announce(
    session: AsyncSession,
    *,
    topic: str,
    tenant_id: str,
    name: str,
    doc: GlossaryDocument,
    author: str,
    is_default: bool | None = None,
) -> repository.Saved:
    saved = await repository.save(
        session, tenant_id=tenant_id, name=name, doc=doc, author=author, is_default=is_default
    )
    if saved.created:
        _announce(session, topic, saved.glossary, saved.version, deleted=False)
    return saved


async def delete_and_announce(
    session: AsyncSession, *, topic: str, glossary: Glossary, version: GlossaryVersion | None
) -> None:
    await repository.soft_delete(session, glossary)
    _announce(session, topic, glossary, version, deleted=True)


def _announce(
    session: AsyncSession,
    topic: str,
    glossary: Glossary,
    version: GlossaryVersion | None,
    *,
    deleted: bool,
) -> None:
    number = version.version if version else glossary.current_version
    payload = GlossaryUpdatedV1(
        tenant_id=glossary.tenant_id,
        glossary_id=glossary.id,
        name=glossary.name,
        version=number,
        content_hash=version.content_hash if version else None,
        entry_count=version.entry_count if version else None,
        languages=version.languages if version else [],
        deleted=deleted,
    ).model_dump(mode="json")
    action = "deleted" if deleted else "version"
    event_id = str(uuid.uuid5(_NS, f"{glossary.id}\x1f{number}\x1f{action}"))
    enqueue(
        session,
        topic=topic,
        key=glossary.tenant_id,
        payload=payload,
        ce_type=GLOSSARY_UPDATED,
        ce_id=event_id,
        subject=glossary.id,
    )
