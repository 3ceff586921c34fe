"""RetryPolicy: delay bounds with a seeded RNG, Retry-After, per-code limits."""

from __future__ import annotations

import random

import pytest

from service.zai.errors import (
    ZaiBadRequest,
    ZaiRateLimited,
    ZaiServerError,
    ZaiTimeout,
)
from service.zai.retry import RetryPolicy, parse_retry_after


def _policy(seed: int = 7, **kw: object) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(seed), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10, 30])
def test_delay_within_jitter_band(attempt: int) -> None:
    policy = _policy(base=0.5, max=8.0, jitter=0.25)
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    for _ in range(200):
        assert ceiling * 0.75 <= policy.delay(attempt) <= ceiling


def test_delay_grows_exponentially_without_jitter() -> None:
    policy = _policy(base=1.0, max=100.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_delay_capped_at_max() -> None:
    policy = _policy(base=1.0, max=5.0, jitter=0.0)
    assert policy.delay(50) == 5.0


def test_seeded_rng_is_deterministic() -> None:
    a = [_policy(seed=3).delay(n) for n in range(1, 5)]
    b = [_policy(seed=3).delay(n) for n in range(1, 5)]
    assert a == b
    assert a != [_policy(seed=4).delay(n) for n in range(1, 5)]


def test_full_jitter_stays_non_negative() -> None:
    policy = _policy(base=1.0, max=4.0, jitter=1.0)
    assert all(0.0 <= policy.delay(3) <= 4.0 for _ in range(200))


@pytest.mark.parametrize("retry_after", [0.1, 2.0, 30.0])
def test_retry_after_is_a_floor(retry_after: float) -> None:
    policy = _policy(base=0.5, max=8.0)
    for attempt in range(1, 5):
        delay = policy.delay(attempt, retry_after)
        assert delay >= retry_after
        assert delay <= max(retry_after, 8.0)


def test_retry_after_zero_or_none_falls_back_to_backoff() -> None:
    policy = _policy(base=1.0, max=10.0, jitter=0.0)
    assert policy.delay(2, 0) == 2.0
    assert policy.delay(2, None) == 2.0


def test_should_retry_respects_retryable_flag() -> None:
    policy = _policy()
    assert policy.should_retry(ZaiServerError(), 1)
    assert not policy.should_retry(ZaiBadRequest(), 1)
    assert not policy.should_retry(ZaiRateLimited(retryable=False), 1)


def test_max_retries_bounds_attempts() -> None:
    policy = _policy(max_retries=2)
    err = ZaiTimeout()
    assert [policy.should_retry(err, n) for n in (1, 2, 3)] == [True, True, False]


def test_zero_retries_never_retries() -> None:
    assert not RetryPolicy.none().should_retry(ZaiTimeout(), 1)


def test_1230_is_retried_once() -> None:
    policy = _policy(max_retries=5)
    err = ZaiServerError(code="1230")
    assert policy.should_retry(err, 1)
    assert not policy.should_retry(err, 2)


def test_other_codes_use_max_retries() -> None:
    policy = _policy(max_retries=5)
    err = ZaiRateLimited(code="1302", retryable=True)
    assert all(policy.should_retry(err, n) for n in range(1, 6))


def test_long_retry_after_is_left_to_the_caller() -> None:
    policy = _policy(max_retry_after=10.0)
    assert policy.should_retry(ZaiRateLimited(retryable=True, retry_after=10.0), 1)
    assert not policy.should_retry(ZaiRateLimited(retryable=True, retry_after=11.0), 1)


def test_next_delay_combines_decision_and_delay() -> None:
    policy = _policy(base=1.0, jitter=0.0)
    assert policy.next_delay(ZaiBadRequest(), 1) is None
    assert policy.next_delay(ZaiTimeout(), 2) == 2.0
    assert policy.next_delay(ZaiRateLimited(retryable=True, retry_after=3.0), 1) == 3.0


@pytest.mark.parametrize(
    "kw", [{"max_retries": -1}, {"base": -1.0}, {"jitter": 1.5}, {"jitter": -0.1}]
)
def test_invalid_policy_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected
