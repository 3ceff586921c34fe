from __future__ import annotations

from pathlib import Path

import pytest

from service.glossary.limits import GlossaryLimits
from service.glossary.model import GlossaryDocument
from service.glossary.parse import parse_glossary
from service.l10n.segment import GlossaryContext

ROOT = Path(__file__).resolve().parents[3]


def load_acme() -> GlossaryDocument:
    """glossaries/acme/*: product terms and brand rules merged into one English glossary."""
    entries = []
    for name in ("product-terms.csv", "brand.json"):
        path = ROOT / "glossaries" / "acme" / name
        doc = parse_glossary(
            path.read_bytes(),
            filename=name,
            content_type=None,
            source_lang="en",
            target_lang=None,
            limits=GlossaryLimits(),
        )
        entries += doc.entries
    return GlossaryDocument("en", tuple(entries))


@pytest.fixture(scope="session")
def acme() -> GlossaryDocument:
    return load_acme()


@pytest.fixture(scope="session")
def acme_ctx(acme: GlossaryDocument) -> GlossaryContext:
    return GlossaryContext.of(acme)
