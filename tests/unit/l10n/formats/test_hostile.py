"""Hostile input: XML entity tricks, alias bombs and tags must fail safely, and fast."""

from __future__ import annotations

import pytest

from service.l10n.formats import ResourceFormatError, get_format

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE resources [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<resources><string name="a">&xxe;</string></resources>"""

XXE_XLIFF = b"""<?xml version="1.0"?>
<!DOCTYPE xliff [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
<file original="a" source-language="en"><body>
<trans-unit id="1"><source>&xxe;</source></trans-unit></body></file></xliff>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE resources [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<resources><string name="a">&lol4;</string></resources>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE resources SYSTEM "http://attacker.example/evil.dtd">
<resources><string name="a">x</string></resources>"""

UNDECLARED_ENTITY = b'<resources><string name="a">&nbsp;</string></resources>'


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("android", XXE),
        ("xliff12", XXE_XLIFF),
        ("android", BILLION_LAUGHS),
        ("android", EXTERNAL_DTD),
    ],
)
@pytest.mark.parametrize("operation", ["extract", "merge"])
def test_doctype_is_refused(name: str, content: bytes, operation: str) -> None:
    fmt = get_format(name)
    with pytest.raises(ResourceFormatError, match="DOCTYPE"):
        fmt.extract(content) if operation == "extract" else fmt.merge(content, {}, "de")


def test_undeclared_entity_is_malformed() -> None:
    with pytest.raises(ResourceFormatError, match="malformed XML at line 1"):
        get_format("android").extract(UNDECLARED_ENTITY)


def test_entity_in_a_translation_is_not_resolved() -> None:
    content = b'<resources><string name="a">Hi <b>you</b></string></resources>'
    with pytest.raises(ResourceFormatError, match="not well-formed"):
        get_format("android").merge(content, {"a": "&xxe; <b>du</b>"}, "de")


def test_yaml_alias_bomb_stays_linear() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for index in range(1, 30):  # 9**30 leaves if aliases were followed
        lines.append(
            f"a{index}: &a{index} [{', '.join([f'*a{index - 1}' if index > 1 else '*a'] * 9)}]"
        )
    units = get_format("yaml").extract("\n".join(lines).encode())
    assert len(units) == 9


def test_yaml_python_tags_build_no_objects() -> None:
    # Round-trip mode keeps unknown tags as tagged plain data: nothing is imported or called.
    content = b"a: !!python/object/apply:os.system ['echo pwned']\nb: Hello\n"
    fmt = get_format("yaml")
    assert [u.id for u in fmt.extract(content)] == ["a.0", "b"]
    output = fmt.merge(content, {"b": "Hallo"}, "de")
    assert output == b"a: !!python/object/apply:os.system ['echo pwned']\nb: Hallo\n"


@pytest.mark.parametrize("name", ["json", "i18next", "arb", "yaml"])
def test_deep_nesting_fails_cleanly(name: str) -> None:
    content = b'{"a": ' * 100_000 + b'"x"' + b"}" * 100_000
    with pytest.raises(ResourceFormatError, match="nested too deeply"):
        get_format(name).extract(content)
    with pytest.raises(ResourceFormatError, match="nested too deeply"):
        get_format(name).merge(content, {}, "de")
