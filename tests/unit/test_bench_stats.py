"""The benchmark suite's arithmetic: steady rates, percentiles, RSS slopes."""

from __future__ import annotations

import math

from benchmarks.suite.load import percentile, steady_rate
from benchmarks.suite.memory import slope


def test_the_steady_rate_leaves_out_ramp_up_and_tail() -> None:
    # 2 s of start-up, then one result every 0.1 s, then a 5 s straggler.
    finished = [2.0 + 0.1 * i for i in range(100)] + [20.0]
    assert math.isclose(steady_rate(finished), 10.0, rel_tol=0.01)


def test_a_few_results_give_the_rate_between_the_first_and_the_last() -> None:
    assert math.isclose(steady_rate([10.0, 11.0, 12.0, 13.0]), 1.0)
    assert math.isnan(steady_rate([5.0]))


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5 and percentile(values, 99) == 99.01


def test_the_slope_of_rss_over_time() -> None:
    flat = [(float(t), 150.0 + (t % 2)) for t in range(60)]
    growing = [(float(t), 150.0 + 0.5 * t) for t in range(60)]
    assert abs(slope(flat)) < 0.01 and math.isclose(slope(growing), 0.5)
