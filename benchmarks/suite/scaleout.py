"""scaleout: two worker processes in one consumer group against one, latency-bound.

A 4-partition requests topic, requests keyed by 8 tenants, simulator latency 1 s and an
in-flight limit of 16 per worker, so each worker is held by waiting, not by CPU. One worker
drains N requests, then two workers (fresh topics and database) drain N more. Speed-up of the
steady rate; each worker's share of the jobs from its metrics. Target: ≥ 1.8 ×.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, Simulator, simulator
from benchmarks.suite.load import Drain, Measured, drain, requests_for, workers
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=640, help="requests per run (640)")
    p.add_argument("--in-flight", type=int, default=16, help="per worker (16)")
    p.add_argument("--latency-ms", type=float, default=1000.0, help="upstream latency (1000)")
    p.add_argument("--partitions", type=int, default=4, help="of the requests topic (4)")


def run(args: argparse.Namespace, env: Infra) -> Result:
    runs: list[tuple[Drain, list[int]]] = []
    with simulator(args.latency_ms) as sim, Progress(console=console) as progress:
        for count in (1, 2):
            runs.append(_run(args, env, sim, progress, count))
    return _result(args, runs)


def _run(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress, count: int
) -> tuple[Drain, list[int]]:
    stack = Stack(env.bootstrap, env.database(f"scale{count}"), sim.agents, sim.files)
    limit = str(args.in_flight)
    settings = {
        "TOPIC_PARTITIONS": str(args.partitions),
        "WORKER_MAX_IN_FLIGHT": limit,
        "WORKER_TENANT_MAX_IN_FLIGHT": limit,
        "ZAI_MAX_CONCURRENCY": limit,
    }
    with workers(stack, count, **settings) as ws:
        messages = requests_for(stack.run, args.requests, tenants=8)
        name = f"{count} worker{'s' if count > 1 else ''}"
        result = asyncio.run(
            drain(env.bootstrap, stack, messages, Measured.of(ws), progress, name=name)
        )
        return result, [_completed(w.metrics()) for w in ws]


def _completed(metrics: str) -> int:
    m = re.search(r"^zai_l10n_translations_completed_total (\S+)$", metrics, re.M)
    return int(float(m.group(1))) if m else 0


def _result(args: argparse.Namespace, runs: list[tuple[Drain, list[int]]]) -> Result:
    ideal = args.in_flight / (args.latency_ms / 1000)
    rows: list[dict[str, Any]] = [
        {
            "workers": len(shares),
            "requests": d.requests,
            "req_per_s": round(d.steady_rate, 2),
            "ideal_req_per_s": round(ideal * len(shares), 1),
            "wall_seconds": round(d.seconds, 1),
            "jobs_per_worker": " / ".join(str(s) for s in shares),
            "cpu_ms_per_request": round(d.cpu_ms_per_request, 2),
        }
        for d, shares in runs
    ]
    speedup = runs[1][0].steady_rate / runs[0][0].steady_rate
    notes = [
        f"{args.partitions} partitions, 8 tenant keys, in flight {args.in_flight} per worker, "
        f"latency {args.latency_ms:g} ms; rates are steady (10th–90th percentile of completions)",
        f"wall-clock speed-up {runs[0][0].seconds / runs[1][0].seconds:.2f} ×",
    ]
    return Result(
        "scaleout",
        rows,
        [Target("two workers ≥ 1.8 × one", round(speedup, 2), speedup >= 1.8)],
        notes,
        data={"finished": {len(s): [t - d.started for t in d.finished] for d, s in runs}},
        plot=lambda fig: _plot(fig, runs),
    )


def _plot(fig: Figure, runs: list[tuple[Drain, list[int]]]) -> None:
    ax = fig.add_subplot()
    for d, shares in runs:
        times = [t - d.started for t in d.finished]
        label = f"{len(shares)} worker{'s' if len(shares) > 1 else ''}: {d.steady_rate:.1f} req/s"
        ax.plot(times, range(1, len(times) + 1), label=label)
    ax.set_xlabel("seconds since the first request was published")
    ax.set_ylabel("requests done")
    ax.set_title("Scale-out: one consumer group, latency-bound")
    ax.grid(True, alpha=0.3)
    ax.legend()
