"""Glossaries as code (`zai-l10n glossary import`): load `<root>/<tenant>/<name>.<ext>`;
unchanged content makes no version."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.glossary.limits import GlossaryLimits
from service.glossary.parse import SUPPORTED_EXTENSIONS, parse_glossary
from service.glossary.problems import GlossaryInvalid
from service.store.glossaries import save_and_announce

AUTHOR = "import"


@dataclass(frozen=True)
class ImportResult:
    tenant_id: str
    name: str
    path: Path
    version: int | None = None
    created: bool = False
    error: str | None = None


def discover(root: Path) -> list[tuple[str, str, Path]]:
    """(tenant, glossary name, file) for every glossary file one level below a tenant folder."""
    found = []
    for tenant_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(tenant_dir.iterdir()):
            if file.is_file() and file.suffix.lower() in SUPPORTED_EXTENSIONS:
                found.append((tenant_dir.name, file.stem, file))
    return found


async def import_tree(
    sessions: async_sessionmaker[AsyncSession], root: Path, *, topic: str, limits: GlossaryLimits
) -> list[ImportResult]:
    results = []
    for tenant, name, path in discover(root):
        results.append(await _import_one(sessions, tenant, name, path, topic, limits))
    return results


async def _import_one(
    sessions: async_sessionmaker[AsyncSession],
    tenant: str,
    name: str,
    path: Path,
    topic: str,
    limits: GlossaryLimits,
) -> ImportResult:
    try:
        doc = parse_glossary(
            await asyncio.to_thread(path.read_bytes),
            filename=path.name,
            content_type=None,
            source_lang=None,
            target_lang=None,
            limits=limits,
        )
    except GlossaryInvalid as exc:
        where = "; ".join(
            f"row {p.row}: {p.message}" if p.row else p.message for p in exc.problems[:5]
        )
        return ImportResult(tenant, name, path, error=where)
    async with sessions() as session:
        saved = await save_and_announce(
            session, topic=topic, tenant_id=tenant, name=name, doc=doc, author=AUTHOR
        )
    return ImportResult(tenant, name, path, saved.version.version, saved.created)
