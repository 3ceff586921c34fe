"""latency: does the worker keep its in-flight limit busy while Z.ai takes its time?

Simulator latency 1 s, fixed and lognormal (that median, sigma 0.5), one partition; the worker
at in-flight 1, 8, 32, 64, 128, 256 (tenant cap and Z.ai concurrency set to the same, so the
in-flight limit is the only bound), `rounds` × in-flight requests each. Throughput is the
steady rate (10th to 90th percentile of completions). Baseline: a plain FastStream subscriber
with default settings (benchmarks/faststream_baseline.py). Targets: ≥ 0.9 × in-flight ÷ latency
at 64 in flight with fixed latency; the report shows where the curve flattens.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, Simulator, simulator
from benchmarks.suite.load import (
    Drain,
    Measured,
    baseline,
    drain,
    requests_for,
    steady_rate,
    workers,
)
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency-ms", type=float, default=1000.0, help="upstream latency (1000)")
    p.add_argument("--steps", default="1,8,32,64,128,256", help="in-flight limits to run")
    p.add_argument("--rounds", type=int, default=8, help="requests per step = rounds × limit")
    p.add_argument("--models", default="fixed,lognormal", help="latency models to run")
    p.add_argument("--sigma", type=float, default=0.5, help="lognormal sigma (0.5)")
    p.add_argument("--baseline-requests", type=int, default=12, help="for FastStream (12)")


def run(args: argparse.Namespace, env: Infra) -> Result:
    steps = [int(s) for s in args.steps.split(",")]
    rows: list[dict[str, Any]] = []
    with simulator() as sim, Progress(console=console) as progress:
        for model in args.models.split(","):
            sim.reset(latency_ms=args.latency_ms, latency_model=model, latency_sigma=args.sigma)
            base = _faststream(args, env, sim, progress, model)
            rows.append(_row(model, "FastStream subscriber", 1, base, args))
            for k in steps:
                rows.append(_row(model, "worker", k, _worker(args, env, sim, progress, k), args))
    return _result(args, rows)


def _worker(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress, k: int
) -> Drain:
    stack = Stack(env.bootstrap, env.database(f"latency{k}"), sim.agents, sim.files)
    limits = {name: str(k) for name in _LIMITS}
    with workers(stack, 1, TOPIC_PARTITIONS="1", **limits) as [w]:
        messages = requests_for(stack.run, max(args.rounds * k, 16))
        return asyncio.run(
            drain(env.bootstrap, stack, messages, Measured.of([w]), progress, name=f"in flight {k}")
        )


_LIMITS = ("WORKER_MAX_IN_FLIGHT", "WORKER_TENANT_MAX_IN_FLIGHT", "ZAI_MAX_CONCURRENCY")


def _faststream(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress, model: str
) -> Drain:
    stack = Stack(env.bootstrap, "", sim.agents, sim.files)
    with baseline("faststream_baseline.py", stack, sim.agents) as measured:
        messages = requests_for(stack.run, args.baseline_requests)
        return asyncio.run(
            drain(env.bootstrap, stack, messages, measured, progress, name=f"FastStream, {model}")
        )


def _row(model: str, run: str, k: int, d: Drain, args: argparse.Namespace) -> dict[str, Any]:
    ideal = k / (args.latency_ms / 1000)
    rate = steady_rate(d.finished, wave=k)  # whole waves of k completions
    return {
        "latency": model,
        "run": run,
        "in_flight": k,
        "requests": d.requests,
        "req_per_s": round(rate, 2),
        "ideal_req_per_s": round(ideal, 1),
        "ratio": round(rate / ideal, 3),
        "ratio_p10_p90": round(d.steady_rate / ideal, 3),  # the estimator before whole waves
        "wall_req_per_s": round(d.rate, 2),
        "cpu_ms_per_request": round(d.cpu_ms_per_request, 2),
    }


GOALS = ((64, 0.9), (256, 0.85))  # issue 21


def _result(args: argparse.Namespace, rows: list[dict[str, Any]]) -> Result:
    worker = [r for r in rows if r["run"] == "worker"]
    targets = []
    for in_flight, goal in GOALS:
        row = next(
            (r for r in worker if r["latency"] == "fixed" and r["in_flight"] == in_flight), None
        )
        if row is not None:
            name = f"fixed 1 s, in flight {in_flight}: ≥ {goal} × in-flight ÷ latency"
            targets.append(Target(name, row["ratio"], row["ratio"] >= goal))
    notes = [
        f"latency {args.latency_ms:g} ms median; lognormal sigma {args.sigma:g} "
        f"(mean {math.exp(args.sigma**2 / 2):.2f} × the median)"
    ]
    for model in dict.fromkeys(r["latency"] for r in worker):
        mine = [r for r in worker if r["latency"] == model]
        below = [r["in_flight"] for r in mine if r["ratio"] < 0.8]
        best = max(mine, key=lambda r: r["req_per_s"])
        notes.append(
            f"{model}: below 0.8 × ideal from in flight {below[0] if below else 'never'}; "
            f"peak {best['req_per_s']:.1f} req/s at {best['in_flight']}"
        )
    return Result("latency", rows, targets, notes, plot=lambda fig: _plot(fig, rows, args))


def _plot(fig: Figure, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ax = fig.add_subplot()
    steps = sorted({r["in_flight"] for r in rows if r["run"] == "worker"})
    ax.plot(
        steps, [k / (args.latency_ms / 1000) for k in steps], "k--", label="in-flight ÷ latency"
    )
    for model, marker in (("fixed", "o"), ("lognormal", "s")):
        mine = [r for r in rows if r["latency"] == model]
        worker = [r for r in mine if r["run"] == "worker"]
        if worker:
            xs = [r["in_flight"] for r in worker]
            ax.plot(xs, [r["req_per_s"] for r in worker], marker + "-", label=f"worker, {model}")
        for r in mine:
            if r["run"] != "worker":
                ax.plot(
                    [1],
                    [r["req_per_s"]],
                    marker,
                    mfc="none",
                    ms=10,
                    label=f"FastStream subscriber (defaults), {model}",
                )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("in-flight limit")
    ax.set_ylabel("requests/s (steady)")
    ax.set_title(f"Latency hiding at {args.latency_ms:g} ms upstream latency, one partition")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
