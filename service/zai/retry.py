"""The pure retry decision: whether to try again and how long to wait first.

The client runs a tiny loop around this policy instead of tenacity: the decision needs the
classified ZaiError (its retryable flag, business code and Retry-After), the loop must count
attempts into results and errors, and tests inject the RNG and sleep. Tenacity's stop/wait
callbacks would only re-call this class, adding indirection and RetryError wrapping.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from service.zai.errors import ZaiError

# Codes the docs say to retry only a limited number of times (zai-api.md §8.3: 1230 "once").
DEFAULT_CODE_LIMITS: Mapping[str, int] = {"1230": 1}


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff.

    Retry ``n`` (1-based) waits ``min(max, base * 2**(n-1))`` reduced by up to ``jitter``
    (a fraction) at random, and never less than a ``Retry-After`` the server sent. A
    Retry-After above ``max_retry_after`` is not waited out: the error goes to the caller,
    whose job scheduler is the right place for long waits.
    """

    max_retries: int = 4
    base: float = 0.5
    max: float = 20.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    code_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CODE_LIMITS))
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base < 0 or self.max < 0:
            raise ValueError("max_retries, base and max must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = first retry)."""
        ceiling = min(self.max, self.base * 2.0 ** max(attempt - 1, 0))
        backoff = ceiling * (1.0 - self.jitter * self.rng.random())
        if retry_after is not None and retry_after > 0:
            return max(backoff, retry_after)
        return backoff

    def should_retry(self, error: ZaiError, attempt: int) -> bool:
        """Whether a failure of attempt number ``attempt`` (1 = first try) may be retried."""
        if not error.retryable or attempt > self.max_retries:
            return False
        if error.retry_after is not None and error.retry_after > self.max_retry_after:
            return False
        limit = self.code_limits.get(error.code or "")
        return limit is None or attempt <= limit

    def next_delay(self, error: ZaiError, attempt: int) -> float | None:
        """The wait before retrying after ``attempt`` failed with ``error``; None = give up."""
        if not self.should_retry(error, attempt):
            return None
        return self.delay(attempt, error.retry_after)

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; HTTP-date forms are ignored (Z.ai sends none)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds != float("inf") else None
