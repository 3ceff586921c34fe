"""The benchmark suite's steady rate: unbiased for results in waves and for even ones."""

from __future__ import annotations

import pytest

from benchmarks.suite.load import steady_rate


def waves(n: int, size: int, period: float) -> list[float]:
    """n results in waves of `size`, each wave within 10 ms, one wave per `period` seconds."""
    return [(i // size) * period + 0.01 * (i % size) / size for i in range(n)]


def test_whole_waves_give_the_true_rate_where_a_fraction_of_one_reads_low() -> None:
    finished = waves(512, 64, 1.05)  # 64 in flight, a 1.05 s cycle: 60.95 results/s
    assert steady_rate(finished, wave=64) == pytest.approx(64 / 1.05, rel=0.01)
    assert steady_rate(finished) == pytest.approx(0.913 * 64 / 1.05, rel=0.01)  # 409 / 7 waves


def test_even_results_read_the_same_either_way() -> None:
    finished = [i / 50 for i in range(1000)]  # 50 results/s
    assert steady_rate(finished, wave=64) == pytest.approx(50, rel=0.001)
    assert steady_rate(finished) == pytest.approx(50, rel=0.001)
