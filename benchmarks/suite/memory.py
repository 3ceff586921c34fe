"""memory: a backlog of 100,000 requests drained at 50 ms upstream latency.

All requests are published at once (the intake pauses at WORKER_MAX_BACKLOG, Kafka holds the
rest); the worker's RSS is sampled every second from /proc. Baseline: the same worker's RSS
while idle after start-up, in the same run. Reported: peak RSS, and the slope of a
least-squares line through the samples after the first 10 % of the drain (warm-up), in MiB
per 10,000 requests. Target: peak < 300 MB and flat, i.e. the fitted growth over that window
is under 10 % of the peak. `--requests` runs a smaller backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, rss_mb, simulator
from benchmarks.suite.load import Drain, Measured, drain, requests_for, workers
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=100_000, help="the backlog (100000)")
    p.add_argument("--latency-ms", type=float, default=50.0, help="upstream latency (50)")
    p.add_argument("--in-flight", type=int, default=64, help="the worker's limit (64)")


def run(args: argparse.Namespace, env: Infra) -> Result:
    with simulator(args.latency_ms) as sim, Progress(console=console) as progress:
        stack = Stack(env.bootstrap, env.database("memory"), sim.agents, sim.files)
        limit = str(args.in_flight)
        settings = {"WORKER_MAX_IN_FLIGHT": limit, "ZAI_MAX_CONCURRENCY": limit}
        with workers(stack, 1, TOPIC_PARTITIONS="1", **settings) as [w]:
            idle = _idle_rss(w.pid)
            messages = requests_for(stack.run, args.requests)
            measured = Measured.of([w], sample_rss=True)
            d = asyncio.run(
                drain(
                    env.bootstrap,
                    stack,
                    messages,
                    measured,
                    progress,
                    name="backlog",
                    stall_timeout=600,
                )
            )
    return _result(args, d, idle)


def _idle_rss(pid: int, seconds: float = 5.0) -> float:
    samples = []
    for _ in range(int(seconds)):
        samples.append(rss_mb(pid))
        time.sleep(1)
    return max(samples)


def slope(samples: list[tuple[float, float]]) -> float:
    """MiB per second of a least-squares line through (seconds, MiB)."""
    if len(samples) < 3:
        return 0.0
    xs, ys = [t for t, _ in samples], [m for _, m in samples]
    return statistics.linear_regression(xs, ys).slope


def _result(args: argparse.Namespace, d: Drain, idle: float) -> Result:
    during = [(t, m) for t, m in d.rss if t <= d.seconds]
    window = [(t, m) for t, m in during if t >= 0.1 * d.seconds]
    peak = max(m for _, m in d.rss)
    per_second = slope(window)
    span = (window[-1][0] - window[0][0]) if len(window) > 1 else 0.0
    growth = per_second * span
    per_10k = per_second / d.rate * 10_000
    rows: list[dict[str, Any]] = [
        {"phase": "idle after start-up (baseline)", "rss_mb": round(idle, 1)},
        {"phase": f"draining {d.requests:,} requests", "rss_mb": round(peak, 1)},
    ]
    for row, extra in zip(rows, ({}, _drain_columns(d, per_10k, growth)), strict=True):
        row.update({"req_per_s": "", "slope_mb_per_10k": "", "growth_mb": ""} | extra)
    return Result(
        "memory",
        rows,
        [
            Target("peak RSS < 300 MB", round(peak, 1), peak < 300),
            Target(
                "flat: fitted growth < 10 % of peak (MB)", round(growth, 1), growth < 0.1 * peak
            ),
        ],
        [
            f"latency {args.latency_ms:g} ms, in flight {args.in_flight}, one partition; RSS "
            f"sampled every second ({len(d.rss)} samples); slope fitted after the first 10 %",
        ],
        data={"rss": d.rss, "idle_mb": idle, "seconds": d.seconds},
        plot=lambda fig: _plot(fig, d, idle),
    )


def _drain_columns(d: Drain, per_10k: float, growth: float) -> dict[str, Any]:
    return {
        "req_per_s": round(d.rate, 1),
        "slope_mb_per_10k": round(per_10k, 2),
        "growth_mb": round(growth, 1),
    }


def _plot(fig: Figure, d: Drain, idle: float) -> None:
    ax = fig.add_subplot()
    ax.plot([t for t, _ in d.rss], [m for _, m in d.rss], label="worker RSS")
    ax.axhline(300, color="red", linestyle="--", label="target 300 MB")
    ax.axhline(idle, color="grey", linestyle=":", label=f"idle {idle:.0f} MB")
    done = ax.twinx()
    done.plot([t - d.started for t in d.finished], range(1, len(d.finished) + 1), "g", alpha=0.4)
    done.set_ylabel("requests done", color="g")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MiB")
    ax.set_ylim(0, max(320, max(m for _, m in d.rss) * 1.1))
    ax.set_title(f"Worker memory over a backlog of {d.requests:,} requests")
    ax.legend(loc="lower right", fontsize=8)
