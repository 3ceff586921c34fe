"""Token counts before a call: Z.ai's tokenizer, cached, or an estimate from characters.

Counts decide two things before any agent call: whether a tenant's budget covers a request
(`service.pipeline.jobs.budget`), and where a long text is split (`chunking.chars_for_tokens`). Both
only need a good estimate, never at the price of failing or stalling a request, so:

- a count is cached by the text's digest (one process, one tokenizer model: the count of a text
  never changes), in a bounded LRU (`cachetools`, already used for the tenants' caches);
- the tokenizer is asked once, with no retry and a short timeout; when it fails, the count is
  estimated from characters and says so (`method="characters"`), and for `cooldown` seconds
  nothing more is sent to it through that upstream account: an outage costs one failed call
  per account, not one per request, and one tenant's broken connection (a Truto account
  without the tool, say) does not turn the others' counts into estimates.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache, TTLCache

from service.errors import UpstreamError
from service.pipeline.ports import EstimateMethod

logger = logging.getLogger(__name__)

Method = EstimateMethod

# Scripts written without spaces, where a character is about a token (CJK, kana, hangul, Thai).
_DENSE = re.compile(
    r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


@dataclass(frozen=True)
class Estimate:
    tokens: int
    method: Method


class TokenCounter(Protocol):
    """What the estimator needs of the upstream account (a `Translator` is one)."""

    @property
    def key_fingerprint(self) -> str: ...

    async def count_tokens(
        self, text: str, *, retry: bool = True, http_timeout: float | None = None
    ) -> int: ...


def character_estimate(text: str, chars_per_token: float) -> int:
    """Tokens of `text` without a tokenizer: a token per character of a dense script, and one
    per `chars_per_token` characters of the rest. Errs high on purpose (it reserves budget)."""
    dense = len(_DENSE.findall(text))
    return dense + math.ceil((len(text) - dense) / chars_per_token)


class TokenEstimator:
    def __init__(
        self,
        *,
        cache_size: int = 10_000,
        chars_per_token: float = 3.0,
        cooldown: float = 30.0,
        http_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_estimate: Callable[[Method], None] = lambda _method: None,
    ) -> None:
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")
        self._cache: LRUCache[bytes, int] = LRUCache(maxsize=cache_size)
        self._chars_per_token = chars_per_token
        self._cooldown = cooldown
        self._http_timeout = http_timeout
        self._on_estimate = on_estimate
        # Accounts whose tokenizer failed lately: an entry expires `cooldown` seconds after it.
        self._resting: TTLCache[str, bool] = TTLCache(
            maxsize=10_000, ttl=max(cooldown, 1e-9), timer=clock
        )

    async def count(self, counter: TokenCounter, text: str) -> Estimate:
        """The tokens of `text`: counted by Z.ai (or remembered), else estimated."""
        if not text.strip():
            return Estimate(0, "tokenizer")
        key = hashlib.sha256(text.encode()).digest()
        tokens = self._cache.get(key)
        if tokens is None and counter.key_fingerprint not in self._resting:
            tokens = await self._ask(counter, text)
            if tokens is not None:
                self._cache[key] = tokens
        if tokens is None:
            self._on_estimate("characters")
            return Estimate(character_estimate(text, self._chars_per_token), "characters")
        self._on_estimate("tokenizer")
        return Estimate(tokens, "tokenizer")

    async def _ask(self, counter: TokenCounter, text: str) -> int | None:
        try:
            return await counter.count_tokens(text, retry=False, http_timeout=self._http_timeout)
        except UpstreamError as exc:
            if self._cooldown > 0:
                self._resting[counter.key_fingerprint] = True
            logger.warning(
                "tokenizer unavailable: estimating from characters",
                extra={"error_code": exc.error_code, "for_seconds": self._cooldown},
            )
            return None
