from __future__ import annotations

from pathlib import Path

from service.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in text]
    assert missing == []
