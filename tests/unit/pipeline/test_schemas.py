from __future__ import annotations

from pathlib import Path

import pytest

from service.pipeline.contract.schemas import SCHEMAS, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_the_code(name: str) -> None:
    """Regenerate with `python -m service.pipeline.contract.schemas docs/schemas` after changing a model."""
    assert (DOCS / name).read_text() == render(SCHEMAS[name])
