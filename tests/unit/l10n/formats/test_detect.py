"""Format detection from file names and content, and the registry."""

from __future__ import annotations

import pytest

from service.l10n.formats import FORMATS, ResourceFormatError, detect_format, get_format
from tests.unit.l10n.formats.support import SAMPLES, sample


@pytest.mark.parametrize(("filename", "format_name"), sorted(SAMPLES.items()))
def test_samples_are_detected_by_name(filename: str, format_name: str) -> None:
    assert detect_format(filename, sample(filename)) == format_name


@pytest.mark.parametrize(("filename", "format_name"), sorted(SAMPLES.items()))
def test_samples_are_detected_without_a_name(filename: str, format_name: str) -> None:
    assert detect_format(None, sample(filename)) == format_name


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("de.pot", b"", "po"),
        ("values/strings.XML", b"<resources/>", "android"),
        ("messages.xliff", b"<xliff/>", None),  # no XLIFF namespace: not a version we know
        ("config.xml", b"<config/>", None),
        ("notes.txt", b"plain text", None),
        (None, b"", None),
        (None, b"\xef\xbb\xbf{}", "json"),
        (
            None,
            b"<!-- <resources> --><xliff xmlns='urn:oasis:names:tc:xliff:document:1.2'/>",
            "xliff12",
        ),
    ],
)
def test_detection_edge_cases(filename: str | None, content: bytes, expected: str | None) -> None:
    assert detect_format(filename, content) == expected


def test_every_format_is_registered_under_its_name() -> None:
    assert sorted(FORMATS) == sorted(
        ["json", "i18next", "arb", "po", "xliff12", "xliff20", "android", "apple-strings", "yaml"]
    )
    assert all(get_format(name).name == name for name in FORMATS)


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ResourceFormatError, match=r"unknown format 'docx'.*'yaml'"):
        get_format("docx")
