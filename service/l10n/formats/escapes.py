"""Backslash escapes of key/value resource files (Android `strings.xml`, Apple `.strings`).

Both decode `\\uXXXX`, a few control letters, and any other escaped character as itself; they
differ only in which letters: each format builds its own `unescape` here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping


def unescaper(controls: Mapping[str, str], unicode_letters: str = "u") -> Callable[[str], str]:
    """`unescape(text)` for a format whose `\\<letter>` escapes are `controls` and whose code
    point escapes start with one of `unicode_letters` (then four hex digits)."""
    pattern = re.compile(rf"\\([{re.escape(unicode_letters)}][0-9a-fA-F]{{4}}|.)", re.DOTALL)

    def decode(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return controls.get(code, code)

    def unescape(text: str) -> str:
        return pattern.sub(decode, text)

    return unescape
