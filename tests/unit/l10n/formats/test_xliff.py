"""XLIFF 1.2 and 2.0, re-read with lxml."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from service.l10n.formats import ResourceFormatError, get_format
from service.l10n.formats.xliff import NS12, NS20
from tests.unit.l10n.formats.support import sample, simulate, tagged

V12 = {"x": NS12}
V20 = {"x": NS20}


def _inner(element: etree._Element) -> str:
    markup = etree.tostring(element, encoding="unicode", with_tail=False)
    return markup[markup.index(">") + 1 : markup.rindex("</")]


def _structure(root: etree._Element) -> list[tuple[str, str | None]]:
    """Every element outside the targets, with its id: what merge must not change."""
    root = copy.deepcopy(root)
    for target in root.xpath("//*[local-name()='target']"):
        target.getparent().remove(target)
    return [(str(e.tag), e.get("id")) for e in root.iter(etree.Element)]


def test_12_units_notes_and_context() -> None:
    units = get_format("xliff12").extract(sample("xliff12.xlf"))
    assert [u.id for u in units] == ["hero.title", "hero.cta", "items[0]", "items[1]"]
    assert units[0].note == "Homepage hero, max 40 characters."
    assert units[0].context == "hero.title"
    assert units[1].text == 'Start your <g id="1">free</g> trial<x id="2"/>'


def test_12_round_trip() -> None:
    original = etree.fromstring(sample("xliff12.xlf"))
    _, output = simulate("xliff12", sample("xliff12.xlf"), "de")
    result = etree.fromstring(output)
    assert _structure(result) == _structure(original)
    assert result.find("x:file", V12).get("target-language") == "de"
    assert result.find("x:file", V12).get("source-language") == "en"
    assert [c.text for c in result.iter(etree.Comment)] == [" Exported from Acme CMS "]
    targets = {u.get("id"): u.find("x:target", V12) for u in result.iter(f"{{{NS12}}}trans-unit")}
    assert targets["hero.title"].text == tagged("Build faster with Acme")
    assert targets["hero.title"].get("state") == "translated"
    assert _inner(targets["hero.cta"]) == tagged('Start your <g id="1">free</g> trial<x id="2"/>')
    assert targets["items[1]"].text == tagged("%d items")
    assert (
        targets["legal.company"] is None and targets["brand"] is None and targets["blank"] is None
    )


def test_12_new_target_follows_source_and_is_indented() -> None:
    _, output = simulate("xliff12", sample("xliff12.xlf"), "de")
    assert (
        b"<source>Build faster with Acme</source>\n"
        b'        <target state="translated">[de] Build faster with Acme</target>\n'
        b"        <note>"
    ) in output
    assert output.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<xliff')


def test_12_several_files_prefix_ids() -> None:
    two = (
        f'<xliff version="1.2" xmlns="{NS12}">'
        '<file original="a.txt" source-language="en"><body>'
        '<trans-unit id="1"><source>One</source></trans-unit></body></file>'
        '<file original="b.txt" source-language="en"><body>'
        '<trans-unit id="1"><source>Uno</source></trans-unit></body></file></xliff>'
    ).encode()
    assert [u.id for u in get_format("xliff12").extract(two)] == ["a.txt/1", "b.txt/1"]


def test_20_units_segments_and_notes() -> None:
    units = get_format("xliff20").extract(sample("xliff20.xlf"))
    assert [u.id for u in units] == ["greeting", "intro[0]", "intro[1]"]
    assert units[0].context == "home.greeting"
    assert units[0].note == "Shown after login."
    assert units[0].text == 'Hello, <ph id="1" equiv="{name}"/>!'


def test_20_round_trip() -> None:
    original = etree.fromstring(sample("xliff20.xlf"))
    _, output = simulate("xliff20", sample("xliff20.xlf"), "de")
    result = etree.fromstring(output)
    assert _structure(result) == _structure(original)
    assert (result.get("srcLang"), result.get("trgLang")) == ("en", "de")
    segments = result.findall(".//x:segment", V20)
    assert [s.get("state") for s in segments] == ["translated"] * 3 + [None, None]
    assert _inner(segments[0].find("x:target", V20)) == tagged(
        'Hello, <ph id="1" equiv="{name}"/>!'
    )
    assert _inner(segments[2].find("x:target", V20)) == tagged(
        'Let us <pc id="1">get started</pc>.'
    )
    assert result.find(".//x:ignorable/x:target", V20) is None


def test_broken_markup_in_a_translation_names_the_unit() -> None:
    with pytest.raises(ResourceFormatError, match=r"hero\.cta: translation is not well-formed"):
        get_format("xliff12").merge(sample("xliff12.xlf"), {"hero.cta": "Start <g id='1'>"}, "de")


def test_plain_text_translation_is_escaped() -> None:
    output = get_format("xliff12").merge(sample("xliff12.xlf"), {"hero.title": "A < B & C"}, "de")
    assert b'<target state="translated">A &lt; B &amp; C</target>' in output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("xliff12", b"<xliff><file>", "malformed XML at line 1"),
        ("xliff12", sample("xliff20.xlf"), "not {urn:oasis"),
        ("xliff20", sample("xliff12.xlf"), "not {urn:oasis"),
        (
            "xliff12",
            f'<xliff xmlns="{NS12}"><file><body><trans-unit><source>x</source>'
            "</trans-unit></body></file></xliff>".encode(),
            "without id at line 1",
        ),
        (
            "xliff12",
            f'<xliff xmlns="{NS12}"><file><body><trans-unit id="a"/></body></file>'
            "</xliff>".encode(),
            "'a' has no source",
        ),
    ],
)
def test_malformed_xliff_says_where(name: str, content: bytes, message: str) -> None:
    with pytest.raises(ResourceFormatError, match=message.replace("{", r"\{")):
        get_format(name).extract(content)
