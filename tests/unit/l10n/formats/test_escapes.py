"""The one backslash-unescaper, as Android `strings.xml` and Apple `.strings` each configure it."""

from __future__ import annotations

import pytest

from service.l10n.formats import android, applestrings
from service.l10n.formats.escapes import unescaper


@pytest.mark.parametrize(
    ("raw", "android_text", "apple_text"),
    [
        (r"a\nb\tc", "a\nb\tc", "a\nb\tc"),
        (r"caf\u00e9", "café", "café"),
        (r"caf\U00e9", "cafU00e9", "café"),  # only .strings knows the capital U
        (r"a\rb", "arb", "a\rb"),  # only .strings decodes \r
        (r"It\'s \"x\" \\ y", 'It\'s "x" \\ y', 'It\'s "x" \\ y'),
        (r"\u00zz", "u00zz", "u00zz"),  # not four hex digits: the letter as itself
    ],
)
def test_each_format_decodes_its_own_escapes(raw: str, android_text: str, apple_text: str) -> None:
    assert android.unescape(raw) == android_text
    assert applestrings.unescape(raw) == apple_text


def test_a_trailing_backslash_is_kept() -> None:
    assert unescaper({})("end\\") == "end\\"
