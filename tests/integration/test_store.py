"""The schema on both backends: migrations equal the models, constraints hold."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from service.store.db import session_factory
from service.store.tables import Glossary, GlossaryEntry, GlossaryVersion, ZaiFile

pytestmark = pytest.mark.postgres


async def test_migrated_schema_equals_models(engine: AsyncEngine) -> None:
    def diff(connection: object) -> list[object]:
        ctx = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(ctx, SQLModel.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def _glossary_with_version(engine: AsyncEngine) -> tuple[str, int]:
    sessions = session_factory(engine)
    gid = str(uuid.uuid4())
    async with sessions() as s:
        s.add(Glossary(id=gid, tenant_id="acme", name="terms", source_lang="en", current_version=1))
        await s.flush()
        version = GlossaryVersion(
            glossary_id=gid,
            version=1,
            source_lang="en",
            content_hash="0" * 64,
            entry_count=1,
            languages=["en", "de"],
            author="tok",
        )
        s.add(version)
        await s.flush()
        assert version.id is not None
        s.add(
            GlossaryEntry(
                version_id=version.id,
                position=0,
                term="invoice",
                translations={"de": "Rechnung"},
                forbidden=False,
            )
        )
        await s.commit()
        return gid, version.id


async def test_entries_round_trip_with_json_and_unicode(engine: AsyncEngine) -> None:
    _, version_id = await _glossary_with_version(engine)
    async with session_factory(engine)() as s:
        (entry,) = (
            await s.exec(select(GlossaryEntry).where(GlossaryEntry.version_id == version_id))
        ).all()
        version = await s.get(GlossaryVersion, version_id)
    assert entry.translations == {"de": "Rechnung"}
    assert version is not None and version.languages == ["en", "de"]
    assert version.created_at.tzinfo is not None


async def test_one_upload_row_per_account_version_and_pair(engine: AsyncEngine) -> None:
    _, version_id = await _glossary_with_version(engine)
    sessions = session_factory(engine)
    key = {"account": "acct", "version_id": version_id, "source_lang": "en", "target_lang": "de"}
    async with sessions() as s:
        s.add(ZaiFile(**key, state="uploading"))
        await s.commit()
    async with sessions() as s:
        s.add(ZaiFile(**key, state="uploading"))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_glossary_names_are_unique_per_tenant(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as s:
        s.add(Glossary(id=str(uuid.uuid4()), tenant_id="acme", name="n", source_lang="en"))
        s.add(Glossary(id=str(uuid.uuid4()), tenant_id="globex", name="n", source_lang="en"))
        await s.commit()
    async with sessions() as s:
        s.add(Glossary(id=str(uuid.uuid4()), tenant_id="acme", name="n", source_lang="en"))
        with pytest.raises(IntegrityError):
            await s.commit()
