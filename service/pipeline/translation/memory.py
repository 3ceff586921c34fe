"""Translation memory keys (an exact match on the normalized source segment, per tenant), and
the translations under way that a run may share instead of paying for them again."""

from __future__ import annotations

import asyncio
import hashlib
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable


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


class InFlight:
    """Translations under way in this process, by memory key. Memory helps only once a
    translation is stored: without this, jobs claimed together that share a segment (a
    repeated string, a re-sent request) would each pay for it. A run that needs a key another
    run is translating waits for that translation instead; if it comes back unusable, the
    waiting run translates the segment itself. A finished translation stays here for `keep`
    seconds, until the memory surely has it: a run whose memory look-up raced the write finds
    it here. (Per process: two workers may still both pay.)
    """

    def __init__(
        self, keep: float = 30.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._pending: dict[str, asyncio.Future[str | None]] = {}
        # Finished ones, oldest first, with when they go: expired from the front as new ones
        # come (cachetools' TTLCache walked its expiry list on every look-up, twice a job).
        self._recent: OrderedDict[str, tuple[float, asyncio.Future[str | None]]] = OrderedDict()
        self._keep, self._size, self._clock = keep, size, clock

    def claim(self, key: str) -> asyncio.Future[str | None] | None:
        """None: the caller translates `key` and must `settle` it. Else the translation under
        way (or just made), to await shielded: a cancelled waiter must not cancel it."""
        pending = self._pending.get(key)
        if pending is None and (recent := self._recent.get(key)) is not None:
            until, pending = recent
            if until <= self._clock():
                pending = None
        if pending is not None:
            return pending
        self._pending[key] = asyncio.get_running_loop().create_future()
        return None

    def settle(self, key: str, text: str | None) -> None:
        """The owner's clean translation of `key`, or None if it has none to share."""
        future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(text)
            if text is not None:
                self._remember(key, future)

    def _remember(self, key: str, future: asyncio.Future[str | None]) -> None:
        now = self._clock()
        self._recent.pop(key, None)
        self._recent[key] = (now + self._keep, future)
        while self._recent:
            oldest, (until, _) = next(iter(self._recent.items()))
            if until > now and len(self._recent) <= self._size:
                break
            del self._recent[oldest]
