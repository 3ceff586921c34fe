"""The text encoding of an uploaded CSV/TSV: UTF-8 if it is (a BOM allowed), else detected.

Spreadsheets still save "CSV" in the system's code page (Windows-1252, Shift_JIS, …) or as
UTF-16 ("Unicode text"). Rejecting those made users re-save a file they could not see was
wrong; now it is read in the encoding charset-normalizer finds most plausible, and the upload's
answer names it, so a wrong guess is seen (and overridden with an explicit `encoding`).

charset-normalizer ranks candidates by "chaos" (implausible characters) and then coherence
(letter frequencies of a language). Short texts often tie several single-byte code pages; of
those, the one spreadsheets write most is taken (the order of `_PREFERRED`), not the first
alphabetically as the library would.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

UTF8 = "utf-8"
# Tie-break among equally plausible candidates: what spreadsheets commonly write.
_PREFERRED = (
    "utf_16",
    "cp1252",
    "cp932",
    "gb18030",
    "big5",
    "euc_kr",
    "cp1251",
    "cp1250",
    "cp1253",
    "cp1254",
    "cp1257",
    "mac_roman",
)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # a codec name as Python's codecs know it, e.g. "utf-8", "cp1252"
    detected: bool  # not UTF-8 and not named by the caller


class UnknownEncoding(ValueError):
    """No plausible encoding was found (binary data), or the named one does not decode it."""


def codec_name(name: str) -> str | None:
    """The canonical codec name for `name` ("latin-1" → "iso8859-1"), None if unknown."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(content: bytes, encoding: str | None = None) -> Decoded:
    """`content` as text: in `encoding` if given, else UTF-8, else the detected encoding."""
    if encoding is not None:
        try:
            return Decoded(content.decode(encoding).removeprefix("\ufeff"), encoding, False)
        except (UnicodeDecodeError, LookupError) as exc:
            raise UnknownEncoding(f"the file is not {encoding}: {exc}") from None
    try:
        return Decoded(content.decode("utf-8-sig"), UTF8, False)
    except UnicodeDecodeError:
        pass
    results = from_bytes(content)
    best = results.best()
    if best is None:
        raise UnknownEncoding("no text encoding fits its bytes")
    tied = [r for r in results if (r.chaos, r.coherence) == (best.chaos, best.coherence)]
    pick = min(tied, key=_rank)
    name = codec_name(pick.encoding) or pick.encoding
    return Decoded(str(pick).removeprefix("\ufeff"), name, True)


def _rank(result: object) -> int:
    name = getattr(result, "encoding", "")
    return _PREFERRED.index(name) if name in _PREFERRED else len(_PREFERRED)
