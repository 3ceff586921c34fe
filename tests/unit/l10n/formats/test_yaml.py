"""YAML, re-read with ruamel.yaml."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from service.l10n.formats import ResourceFormatError, get_format
from tests.unit.l10n.formats.support import sample, simulate, tagged

YAML_FORMAT = get_format("yaml")


def _load(content: bytes) -> object:
    return YAML(typ="rt").load(content.decode())


def _keys(node: object) -> object:
    if isinstance(node, dict):
        return {key: _keys(value) for key, value in node.items()}
    return None


def test_units_ids_and_plurals() -> None:
    units = YAML_FORMAT.extract(sample("en.yml"))
    assert [u.id for u in units] == [
        "en.nav.home",
        "en.nav.account",
        "en.nav.logout",
        "en.messages.welcome",
        "en.messages.terms",
        "en.messages.count.one",
        "en.messages.count.other",
        "en.defaults.cancel",
        "en.dialogs.confirm",  # merged keys (<<: *defaults) belong to the anchor
    ]
    assert [u.plural for u in units if u.plural] == ["one", "other"]


def test_round_trip_keeps_keys_comments_and_values() -> None:
    _, output = simulate("yaml", sample("en.yml"), "de")
    original, result = _load(sample("en.yml")), _load(output)
    assert list(result) == ["de"]
    assert _keys(result["de"]) == _keys(original["en"])
    text = output.decode()
    for comment in (
        "# Acme web app, English strings.",
        "# Header navigation",
        "# shown after login",
    ):
        assert comment in text
    assert result["de"]["nav"]["home"] == tagged("Home")
    assert result["de"]["messages"]["terms"] == tagged("By continuing you agree\nto our terms.\n")
    assert result["de"]["limits"] == {"max_upload_mb": 25, "enabled": True, "empty": ""}


def test_anchor_alias_and_quoting_styles_survive() -> None:
    text = simulate("yaml", sample("en.yml"), "de")[1].decode()
    assert "defaults: &defaults" in text and "<<: *defaults" in text
    assert 'account: "[de] My account"' in text
    assert "terms: |" in text
    assert _load(text.encode())["de"]["dialogs"]["cancel"] == tagged("Cancel")


def test_plural_mapping_follows_the_target_language() -> None:
    result = _load(simulate("yaml", sample("en.yml"), "ru")[1])
    count = result["ru"]["messages"]["count"]
    assert list(count) == ["one", "few", "many", "other"]
    assert count["few"] == tagged("%{count} messages", "ru")


def test_plain_nested_yaml_root_is_not_renamed() -> None:
    output = YAML_FORMAT.merge(b"app:\n  title: Hi\n", {"app.title": "Hallo"}, "de")
    assert output == b"app:\n  title: Hallo\n"


def test_document_start_marker_is_kept() -> None:
    output = YAML_FORMAT.merge(b"---\ngreeting: Hi\n", {"greeting": "Hallo"}, "de")
    assert output == b"---\ngreeting: Hallo\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: [1, 2\nb: c\n", "invalid YAML at line"),
        (b"a: x\na: y\n", "line 2"),
        (b"just text\n", "top level"),
        (b"a: \xff\n", "not UTF-8"),
    ],
)
def test_malformed_yaml_says_where(content: bytes, message: str) -> None:
    with pytest.raises(ResourceFormatError, match=message):
        YAML_FORMAT.extract(content)
