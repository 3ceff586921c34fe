"""The language codes and strategies the service speaks: those Z.ai's General Translation agent
documents (zai-api.md §6.2).

A module of its own at the bottom of the layers, so the request contract, the glossary, the
Z.ai adapter and the simulator share one list without the glossary depending on the adapter.
"""

from __future__ import annotations

from typing import Final

_COMMON: Final = (
    "zh-CN zh-TW wyw yue en ja ko fr de es ru pt it ar hi bg cs da el et fi hu id lt lv nl no pl "
    "ro sk sl sv th tr uk vi my ms Pinyin IPA"
).split()

SOURCE_LANGS: Final[frozenset[str]] = frozenset(["auto", *_COMMON])
TARGET_LANGS: Final[frozenset[str]] = frozenset([*_COMMON, "en-GB", "en-US"])
STRATEGIES: Final[frozenset[str]] = frozenset(
    ["general", "paraphrase", "two_step", "three_step", "reflection", "cot"]
)
REASON_LANGS: Final[frozenset[str]] = frozenset(["from", "to"])


def is_source_lang(code: str) -> bool:
    return code in SOURCE_LANGS


def is_target_lang(code: str) -> bool:
    return code in TARGET_LANGS
