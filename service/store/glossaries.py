"""Glossaries in the database: versions are immutable, and the same content never makes a new one.

Every function takes the caller's session and leaves committing to it, so a route or an import
decides the transaction's extent; but the three that make a change whole (`save_and_announce`,
`delete_and_announce`, `make_default`) commit it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary.events import GLOSSARY_UPDATED, GlossaryUpdatedV1, glossary_event_id
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.pipeline.contract.outcomes import OutboundEvent
from service.pipeline.ports import GlossaryPin
from service.store.errors import store_call
from service.store.outbox import enqueue
from service.store.tables import Glossary, GlossaryVersion, utcnow
from service.store.tables import GlossaryEntry as EntryRow


@dataclass(frozen=True)
class Saved:
    glossary: Glossary
    version: GlossaryVersion
    created: bool  # False when the content equalled the current version


async def find(session: AsyncSession, tenant_id: str, ref: str) -> Glossary | None:
    """A live glossary of the tenant by name or id."""
    query = select(Glossary).where(
        Glossary.tenant_id == tenant_id,
        col(Glossary.deleted_at).is_(None),
        (Glossary.name == ref) | (Glossary.id == ref),
    )
    return (await session.exec(query)).first()


async def find_default(session: AsyncSession, tenant_id: str) -> Glossary | None:
    query = select(Glossary).where(
        Glossary.tenant_id == tenant_id,
        col(Glossary.deleted_at).is_(None),
        col(Glossary.is_default).is_(True),
    )
    return (await session.exec(query)).first()


async def list_live(session: AsyncSession, tenant_id: str) -> list[Glossary]:
    query = (
        select(Glossary)
        .where(Glossary.tenant_id == tenant_id, col(Glossary.deleted_at).is_(None))
        .order_by(col(Glossary.name))
    )
    return list((await session.exec(query)).all())


async def save(
    session: AsyncSession,
    *,
    tenant_id: str,
    name: str,
    doc: GlossaryDocument,
    author: str,
    is_default: bool | None = None,
) -> Saved:
    """Create the glossary or add a version to it; reviving a deleted one of the same name."""
    glossary = (
        await session.exec(
            select(Glossary)
            .where(Glossary.tenant_id == tenant_id, Glossary.name == name)
            .with_for_update()
        )
    ).first()
    if glossary is None:
        glossary = Glossary(
            id=str(uuid.uuid4()), tenant_id=tenant_id, name=name, source_lang=doc.source_lang
        )
        session.add(glossary)
    revived = glossary.deleted_at is not None
    glossary.deleted_at = None
    if is_default is not None:
        await _set_default(session, glossary, is_default)
    current = await version(session, glossary.id, glossary.current_version)
    if current is not None and current.content_hash == doc.content_hash() and not revived:
        await session.flush()
        return Saved(glossary, current, created=False)
    return Saved(glossary, await _add_version(session, glossary, doc, author), created=True)


async def set_default(session: AsyncSession, glossary: Glossary, is_default: bool) -> None:
    """Flag it as the tenant's default (clearing any other) or unflag it; no new version."""
    await _set_default(session, glossary, is_default)
    await session.flush()


async def _set_default(session: AsyncSession, glossary: Glossary, is_default: bool) -> None:
    if is_default:
        others = await session.exec(
            select(Glossary).where(
                Glossary.tenant_id == glossary.tenant_id,
                Glossary.id != glossary.id,
                col(Glossary.is_default).is_(True),
            )
        )
        for other in others.all():
            other.is_default = False
    glossary.is_default = is_default


async def _add_version(
    session: AsyncSession, glossary: Glossary, doc: GlossaryDocument, author: str
) -> GlossaryVersion:
    number = glossary.current_version + 1
    row = GlossaryVersion(
        glossary_id=glossary.id,
        version=number,
        source_lang=doc.source_lang,
        content_hash=doc.content_hash(),
        entry_count=len(doc.entries),
        languages=sorted(doc.languages),
        author=author,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    session.add_all(_entry_rows(row.id, doc))
    glossary.current_version = number
    glossary.source_lang = doc.source_lang
    glossary.updated_at = utcnow()
    await session.flush()
    return row


def _entry_rows(version_id: int, doc: GlossaryDocument) -> list[EntryRow]:
    return [
        EntryRow(
            version_id=version_id,
            position=i,
            term=e.term,
            translations=dict(e.translations),
            case_sensitive=e.case_sensitive,
            do_not_translate=e.do_not_translate,
            forbidden=e.forbidden,
            note=e.note,
        )
        for i, e in enumerate(doc.entries)
    ]


async def version(session: AsyncSession, glossary_id: str, number: int) -> GlossaryVersion | None:
    query = select(GlossaryVersion).where(
        GlossaryVersion.glossary_id == glossary_id, GlossaryVersion.version == number
    )
    return (await session.exec(query)).first()


async def versions(session: AsyncSession, glossary_id: str) -> list[GlossaryVersion]:
    query = (
        select(GlossaryVersion)
        .where(GlossaryVersion.glossary_id == glossary_id)
        .order_by(col(GlossaryVersion.version))
    )
    return list((await session.exec(query)).all())


async def entries_page(
    session: AsyncSession, version_id: int, *, offset: int, limit: int
) -> tuple[list[GlossaryEntry], int]:
    """One page of a version's entries in their stored order, and the total count."""
    query = (
        select(EntryRow)
        .where(EntryRow.version_id == version_id)
        .order_by(col(EntryRow.position))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.exec(query)).all()
    total = (
        await session.exec(
            select(func.count()).select_from(EntryRow).where(EntryRow.version_id == version_id)
        )
    ).one()
    return [_entry(r) for r in rows], int(total)


async def document(session: AsyncSession, glossary: Glossary, number: int) -> GlossaryDocument:
    """The full document of one version (for export, patching and compiling)."""
    row = await version(session, glossary.id, number)
    if row is None or row.id is None:
        raise LookupError(f"glossary {glossary.id} has no version {number}")
    entries, _ = await entries_page(session, row.id, offset=0, limit=row.entry_count or 1)
    return GlossaryDocument(source_lang=row.source_lang, entries=tuple(entries))


def _entry(row: EntryRow) -> GlossaryEntry:
    return GlossaryEntry(
        term=row.term,
        translations=row.translations,
        case_sensitive=row.case_sensitive,
        do_not_translate=row.do_not_translate,
        forbidden=row.forbidden,
        note=row.note,
    )


async def soft_delete(session: AsyncSession, glossary: Glossary) -> None:
    glossary.deleted_at = utcnow()
    glossary.is_default = False
    await session.flush()


# --- changes, announced through the outbox ------------------------------------------------


class ConcurrentVersion(Exception):
    """Another writer made the same version number first; the caller may simply retry."""


async def save_and_announce(
    session: AsyncSession,
    *,
    topic: str,
    tenant_id: str,
    name: str,
    doc: GlossaryDocument,
    author: str,
    is_default: bool | None = None,
) -> Saved:
    """Save a version and, if it is new, a `glossary.updated` event, and commit them."""
    try:
        saved = await save(
            session, tenant_id=tenant_id, name=name, doc=doc, author=author, is_default=is_default
        )
        if saved.created:
            _announce(session, topic, saved.glossary, saved.version, deleted=False)
        await session.commit()
    except IntegrityError:
        raise ConcurrentVersion() from None
    return saved


async def delete_and_announce(
    session: AsyncSession, *, topic: str, glossary: Glossary, version: GlossaryVersion | None
) -> None:
    """Delete the glossary (softly) with its `glossary.updated` event, and commit them."""
    await soft_delete(session, glossary)
    _announce(session, topic, glossary, version, deleted=True)
    await session.commit()


async def make_default(session: AsyncSession, glossary: Glossary, is_default: bool) -> None:
    """`set_default`, committed."""
    await set_default(session, glossary, is_default)
    await session.commit()


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
    event = OutboundEvent(
        topic=topic,
        key=glossary.tenant_id,
        payload=payload,
        ce_type=GLOSSARY_UPDATED,
        ce_id=glossary_event_id(glossary.id, number, deleted=deleted),
        subject=glossary.id,
    )
    enqueue(session, event)


# --- the pipeline's view (Glossaries port) ------------------------------------------------


class SqlGlossaries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @store_call
    async def pinned(self, glossary_id: str, version: int) -> GlossaryPin | None:
        async with self._sessions() as s:
            row = await s.get(Glossary, glossary_id)
            number = await _version(s, glossary_id, version)
        if row is None or number is None or number.id is None:
            return None
        return GlossaryPin(
            glossary_id, number.version, number.id, number.content_hash, number.source_lang
        )

    @store_call
    async def document(self, pin: GlossaryPin) -> GlossaryDocument:
        async with self._sessions() as s:
            entries, _ = await entries_page(s, pin.version_id, offset=0, limit=1_000_000)
        return GlossaryDocument(source_lang=pin.source_lang, entries=tuple(entries))


_version = version
