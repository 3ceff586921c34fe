"""What every format promises, checked on every sample file."""

from __future__ import annotations

import pytest

from service.l10n.formats import ResourceFormatError, get_format
from tests.unit.l10n.formats.support import SAMPLES, sample, simulate, tagged

#: formats that keep the source next to the translation (re-extracting gives the source again)
BILINGUAL = {"po", "xliff12", "xliff20"}

ALL = pytest.mark.parametrize(("filename", "format_name"), sorted(SAMPLES.items()))


@ALL
def test_extract_finds_units_with_unique_ids(filename: str, format_name: str) -> None:
    units = get_format(format_name).extract(sample(filename))
    assert units
    assert len({unit.id for unit in units}) == len(units)
    assert all(unit.text.strip() for unit in units)


@ALL
def test_extract_is_deterministic(filename: str, format_name: str) -> None:
    fmt = get_format(format_name)
    assert fmt.extract(sample(filename)) == fmt.extract(sample(filename))


@ALL
def test_translated_file_reads_back_in_the_same_format(filename: str, format_name: str) -> None:
    units, output = simulate(format_name, sample(filename), "de")
    again = get_format(format_name).extract(output)
    # The Rails-style YAML root key is the language, so its ids follow it.
    renamed = {"yaml": ("en.", "de.")}.get(format_name, ("", ""))
    assert [unit.id for unit in again] == [unit.id.replace(*renamed, 1) for unit in units]
    if format_name in BILINGUAL:
        assert again == units
    else:
        assert [unit.text for unit in again] == [tagged(unit.text) for unit in units]


@ALL
def test_merge_without_translations_keeps_every_unit(filename: str, format_name: str) -> None:
    fmt = get_format(format_name)
    content = sample(filename)
    assert fmt.extract(fmt.merge(content, {}, "en")) == fmt.extract(content)


@ALL
def test_merge_refuses_unknown_ids(filename: str, format_name: str) -> None:
    with pytest.raises(ResourceFormatError, match="unknown ids"):
        get_format(format_name).merge(sample(filename), {"no-such-id": "x"}, "de")


@ALL
def test_translating_twice_gives_the_same_file(filename: str, format_name: str) -> None:
    assert simulate(format_name, sample(filename))[1] == simulate(format_name, sample(filename))[1]


@pytest.mark.parametrize(
    ("format_name", "content"),
    [
        ("json", b"{}"),
        ("i18next", b"{}"),
        ("arb", b'{"@@locale": "en"}'),
        ("yaml", b""),
        ("yaml", b"# only a comment\n"),
        ("po", b""),
        ("android", b"<resources/>"),
        ("apple-strings", b""),
        ("apple-strings", b"/* nothing yet */\n"),
    ],
)
def test_empty_files_have_no_units(format_name: str, content: bytes) -> None:
    assert get_format(format_name).extract(content) == []
    get_format(format_name).merge(content, {}, "de")  # and merge without complaint


@pytest.mark.parametrize("format_name", ["json", "yaml"])
def test_utf8_byte_order_mark_is_kept(format_name: str) -> None:
    content = b"\xef\xbb\xbf" + (b'{"a": "Hi"}\n' if format_name == "json" else b"a: Hi\n")
    output = get_format(format_name).merge(content, {"a": "Hallo"}, "de")
    assert output.startswith(b"\xef\xbb\xbf")
    assert get_format(format_name).extract(output)[0].text == "Hallo"
