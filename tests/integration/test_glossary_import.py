"""`zai-l10n glossary import`: glossaries as code, idempotent, on both database backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from service.glossary.limits import GlossaryLimits
from service.store.db import session_factory
from service.store.glossary_import import import_tree
from service.store.tables import Glossary, GlossaryVersion

pytestmark = pytest.mark.postgres
SAMPLES = Path(__file__).resolve().parents[2] / "glossaries"


async def test_import_is_idempotent_and_picks_up_changes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    root = tmp_path / "glossaries"
    shutil.copytree(SAMPLES, root)
    sessions = session_factory(engine)
    kw = {"topic": "glossary.events", "limits": GlossaryLimits()}

    first = await import_tree(sessions, root, **kw)  # type: ignore[arg-type]
    assert first and all(r.created and r.version == 1 and r.error is None for r in first)
    again = await import_tree(sessions, root, **kw)  # type: ignore[arg-type]
    assert [(r.created, r.version) for r in again] == [(False, 1)] * len(first)

    csv = root / "acme" / "product-terms.csv"
    csv.write_text(
        csv.read_text() + "changelog,Änderungsprotokoll,journal des modifications,変更履歴,,\n"
    )
    (root / "acme" / "broken.csv").write_text("en,de\n,leer\n")
    third = {(r.tenant_id, r.name): r for r in await import_tree(sessions, root, **kw)}  # type: ignore[arg-type]
    assert (
        third[("acme", "product-terms")].version == 2 and third[("acme", "product-terms")].created
    )
    assert third[("acme", "broken")].error and "row 2" in (third[("acme", "broken")].error or "")
    assert not third[("globex", "legal")].created

    async with sessions() as s:
        tenants = {g.tenant_id for g in (await s.exec(select(Glossary))).all()}
        count = len((await s.exec(select(GlossaryVersion))).all())
    assert tenants == {"acme", "globex"}
    assert count == len(first) + 1


def test_cli_import_twice(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    cmd = [sys.executable, "-m", "service", "glossary", "import", str(SAMPLES)]
    out1 = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    out2 = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    assert "acme/product-terms: version 1 (new)" in out1
    assert "acme/product-terms: version 1 (unchanged)" in out2
    assert "(new)" not in out2
