"""The benchmark suite behind benchmarks/bench.py: infrastructure, load, report, scenarios."""

from __future__ import annotations
