"""Translation memory keys: an exact match on the normalized source segment, per tenant."""

from __future__ import annotations

import hashlib
import unicodedata


def normalize(text: str) -> str:
    """NFC and collapsed inner whitespace: spacing noise should not defeat an exact match."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def memory_key(
    *,
    tenant_id: str,
    text: str,
    source_lang: str,
    target_lang: str,
    glossary_hash: str | None,
    strategy: str,
    instructions: str | None,
) -> str:
    """Everything that changes the translation is part of the key (instructions too)."""
    parts = [
        "v1",
        tenant_id,
        source_lang,
        target_lang,
        glossary_hash or "-",
        strategy,
        instructions or "",
        normalize(text),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
