"""Shared helpers: sample files and the simulator's translation of a whole file."""

from __future__ import annotations

from pathlib import Path

from service.l10n.formats import Unit, get_format
from service.sim.translate import fake_translate

FILES = Path(__file__).resolve().parents[3] / "data" / "l10n" / "files"

#: sample file → format name
SAMPLES = {
    "flat.json": "json",
    "i18next.json": "i18next",
    "app_en.arb": "arb",
    "messages.po": "po",
    "xliff12.xlf": "xliff12",
    "xliff20.xlf": "xliff20",
    "strings.xml": "android",
    "Localizable.strings": "apple-strings",
    "en.yml": "yaml",
}


def sample(name: str) -> bytes:
    return (FILES / name).read_bytes()


def simulate(format_name: str, content: bytes, lang: str = "de") -> tuple[list[Unit], bytes]:
    """Extract, translate each unit with the simulator, merge: what the pipeline does."""
    fmt = get_format(format_name)
    units = fmt.extract(content)
    translations = {unit.id: fake_translate(unit.text, lang) for unit in units}
    return units, fmt.merge(content, translations, lang)


def tagged(text: str, lang: str = "de") -> str:
    return fake_translate(text, lang)
