"""overhead: what the service costs over the least a translation loop must do.

Zero simulator latency, one partition. N requests drained by the bare loop
(benchmarks/bare_loop.py: aiokafka → httpx → aiokafka, the same in-flight limit, no database),
twice: on the worker's HTTP stack and event loop (httpx over aiohttp, uvloop), and as issue 11
measured it (plain httpx, asyncio); then by the worker. Requests/s, CPU ms per request of the
process (from /proc), and, in a second, paced phase well under capacity (so no request
queues), the end-to-end latency of each request: what the service adds when Z.ai answers at
once. Targets (issue 21): ≥ 0.5 × the bare loop; ≤ 2.5 ms worker CPU per request; the
worker adds ≤ 100 ms to the paced p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, Simulator, simulator
from benchmarks.suite.load import (
    Drain,
    Measured,
    baseline,
    drain,
    percentile,
    requests_for,
    workers,
)
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=20_000, help="drained requests (20000)")
    p.add_argument("--in-flight", type=int, default=64, help="in-flight limit of both (64)")
    p.add_argument("--paced", type=int, default=400, help="requests in the paced phase (400)")
    p.add_argument("--paced-rate", type=float, default=20.0, help="its requests/s (20)")
    p.add_argument("--profile", type=Path, help="py-spy the worker's drain: raw stacks to FILE")
    p.add_argument(
        "--no-plain", action="store_true", help="skip the plain-httpx bare loop (smoke test)"
    )


def run(args: argparse.Namespace, env: Infra) -> Result:
    with simulator() as sim, Progress(console=console) as progress:
        bare = _bare(args, env, sim, progress, "worker")
        plain = None if args.no_plain else _bare(args, env, sim, progress, "httpx")
        worker = _worker(args, env, sim, progress)
    return _result(args, bare, plain, worker)


def _phases(
    args: argparse.Namespace,
    env: Infra,
    stack: Stack,
    measured: Measured,
    progress: Progress,
    name: str,
) -> tuple[Drain, Drain | None]:
    """The drain (profiled if asked, for the worker), then the paced phase (if any)."""
    full = requests_for(stack.run, args.requests)
    paced = requests_for(f"{stack.run}-paced", args.paced if "plain" not in name else 0)
    spy = args.profile if name == "worker" else None
    with profiled(measured.pids[0], spy):
        first = asyncio.run(drain(env.bootstrap, stack, full, measured, progress, name=name))
    if not paced:
        return first, None
    second = asyncio.run(
        drain(
            env.bootstrap,
            stack,
            paced,
            measured,
            progress,
            name=f"{name}, paced",
            rate=args.paced_rate,
        )
    )
    return first, second


def _bare(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress, http: str
) -> tuple[Drain, Drain | None]:
    stack = Stack(env.bootstrap, "", sim.agents, sim.files)
    name = "bare loop" if http == "worker" else "bare loop, plain httpx"
    with baseline("bare_loop.py", stack, sim.agents, str(args.in_flight), http) as measured:
        return _phases(args, env, stack, measured, progress, name)


def _worker(
    args: argparse.Namespace, env: Infra, sim: Simulator, progress: Progress
) -> tuple[Drain, Drain | None]:
    stack = Stack(env.bootstrap, env.database("overhead"), sim.agents, sim.files)
    limit = str(args.in_flight)
    settings = {"WORKER_MAX_IN_FLIGHT": limit, "ZAI_MAX_CONCURRENCY": limit}
    with workers(stack, 1, TOPIC_PARTITIONS="1", **settings) as [w]:
        return _phases(args, env, stack, Measured.of([w]), progress, "worker")


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy on `pid` meanwhile, raw (collapsed) stacks at 200 Hz to `out`."""
    if out is None:
        yield
        return
    spy = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "-r", "200"]
    proc = subprocess.Popen([*spy, "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        proc.wait(timeout=120)


def _row(name: str, full: Drain, paced: Drain | None) -> dict[str, Any]:
    latencies = paced.latencies_ms if paced else []
    return {
        "run": name,
        "requests": full.requests,
        "seconds": round(full.seconds, 2),
        "req_per_s": round(full.rate, 1),
        "cpu_ms_per_request": round(full.cpu_ms_per_request, 2),
        "paced_p50_ms": round(percentile(latencies, 50), 1) if latencies else "",
        "paced_p99_ms": round(percentile(latencies, 99), 1) if latencies else "",
    }


Phases = tuple[Drain, Drain | None]


def _result(args: argparse.Namespace, bare: Phases, plain: Phases | None, worker: Phases) -> Result:
    rows = [_row("bare loop (worker's HTTP stack)", *bare)]
    if plain is not None:
        rows.append(_row("bare loop (plain httpx, asyncio)", *plain))
    rows.append(_row("worker", *worker))
    ratio = worker[0].rate / bare[0].rate
    ratio_plain = worker[0].rate / plain[0].rate if plain else float("nan")
    cpu = worker[0].cpu_ms_per_request
    paced = bool(args.paced)
    added50 = rows[-1]["paced_p50_ms"] - rows[0]["paced_p50_ms"] if paced else float("nan")
    added99 = rows[-1]["paced_p99_ms"] - rows[0]["paced_p99_ms"] if paced else float("nan")
    notes = [
        f"in flight {args.in_flight}, one partition, zero simulator latency",
        f"paced phase: {args.paced} requests at {args.paced_rate:g}/s; latency = result event "
        "time − request time (Kafka timestamps); the worker adds "
        f"{added50:.1f} ms (p50) and {added99:.1f} ms (p99) over the bare loop",
    ]
    targets = [
        Target("worker ≥ 0.5 × bare loop on the same HTTP stack", round(ratio, 3), ratio >= 0.5)
    ]
    if plain is not None:
        name = "worker ≥ 0.5 × bare loop as issue 11 measured it (plain httpx)"
        targets.append(Target(name, round(ratio_plain, 3), ratio_plain >= 0.5))
    targets.append(Target("worker CPU ≤ 2.5 ms per request", round(cpu, 2), cpu <= 2.5))
    if paced:
        name = "paced latency the worker adds, p99 ≤ 100 ms"
        targets.append(Target(name, round(added99, 1), added99 <= 100))
    return Result(
        "overhead",
        rows,
        targets,
        notes,
        data={
            "ratio": ratio,
            "ratio_plain_httpx": ratio_plain,
            "paced_latencies_ms": {
                "bare loop": bare[1].latencies_ms if bare[1] else [],
                "worker": worker[1].latencies_ms if worker[1] else [],
            },
        },
        plot=lambda fig: _plot(fig, rows),
    )


def _plot(fig: Figure, rows: list[dict[str, Any]]) -> None:
    names = [r["run"].replace(" (", "\n(") for r in rows]
    panels = [
        ("requests/s (drain)", ["req_per_s"]),
        ("CPU ms per request", ["cpu_ms_per_request"]),
        ("paced latency ms (p50, p99)", ["paced_p50_ms", "paced_p99_ms"]),
    ]
    for i, (title, keys) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        width = 0.8 / len(keys)
        for j, key in enumerate(keys):
            xs = [k + j * width for k in range(len(rows))]
            values = [r[key] if r[key] != "" else 0 for r in rows]
            bars = ax.bar(xs, values, width, label=key.rsplit("_", 2)[-2])
            ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ticks = [k + width * (len(keys) - 1) / 2 for k in range(len(rows))]
        ax.set_xticks(ticks, names, fontsize=7)
        ax.set_title(title, fontsize=10)
        if len(keys) > 1:
            ax.legend(fontsize=8)
