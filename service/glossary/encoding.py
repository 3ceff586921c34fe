"""The text encoding of an uploaded CSV/TSV: UTF-8 if it is (a BOM allowed), else detected.

Spreadsheets still save "CSV" in the system's code page (Windows-1252, Shift_JIS, …) or as
UTF-16 ("Unicode text"). Rejecting those made users re-save a file they could not see was
wrong; now it is read in the encoding charset-normalizer finds most plausible, and the upload's
answer names it, so a wrong guess is seen (and overridden with an explicit `encoding`).

charset-normalizer rates candidates by "chaos" (implausible characters) and coherence (letter
frequencies of a language); we take the least chaotic, then the most coherent. Short texts
often tie several single-byte code pages; of those, the one spreadsheets write most is taken
(the order of `_CANDIDATES`), not the first alphabetically as the library would. A short
file can still be misread (a few Cyrillic words in Windows-1251 decode as plausible Latin
letters in Windows-1252): the answer names the encoding assumed, and the caller may name it.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

UTF8 = "utf-8"
# The encodings a spreadsheet or editor saves text in, most common first: the only candidates
# (charset-normalizer would otherwise pick a DOS code page such as cp775 for a short Windows-
# 1252 file), and the tie-break among equally plausible ones.
_CANDIDATES = (
    "utf_16",
    "utf_32",
    "cp1252",
    "cp1250",
    "cp1251",
    "cp932",
    "gb18030",
    "big5",
    "cp949",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "koi8_r",
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
    results = list(from_bytes(content, cp_isolation=list(_CANDIDATES)))
    if not results:
        raise UnknownEncoding("no text encoding fits its bytes")
    pick = min(results, key=lambda r: (r.chaos, -r.coherence, _rank(r.encoding)))
    name = codec_name(pick.encoding) or pick.encoding
    return Decoded(str(pick).removeprefix("\ufeff"), name, True)


def _rank(name: str) -> int:
    return _CANDIDATES.index(name) if name in _CANDIDATES else len(_CANDIDATES)
