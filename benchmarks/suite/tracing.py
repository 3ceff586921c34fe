"""tracing: what traces cost the worker.

The same zero-latency drain through a worker, three ways, alternating over rounds: traces off
(the baseline), then on at
the default sampling (parent-based, 5 % of new traces: the requests carry no trace of their
own), then on with every trace recorded; the spans are exported by OTLP/HTTP to a stand-in
collector in this process (so the export's CPU is the worker's, the collector's is not): worker
CPU ms per request and their ratios (target at the default sampling ≤ 1.15; every trace is
reported). And what tracing *off* costs: the tracing calls one request makes (intake, job,
language, one Z.ai attempt, publish) timed against an empty loop in this process (target
≤ 0.05 ms, 1 % of the 5 ms budget).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from rich.progress import Progress

from benchmarks.suite.infra import Infra, Simulator, simulator
from benchmarks.suite.load import Drain, Measured, drain, requests_for, workers
from benchmarks.suite.overhead import profiled
from benchmarks.suite.report import Result, Target, console
from tests.support.worker import Stack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=4_000, help="drained requests, each run (4000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the three runs (3)")
    p.add_argument("--in-flight", type=int, default=64, help="the worker's in-flight limit (64)")
    p.add_argument("--profile", type=Path, help="py-spy the traced worker's drain: raw stacks")


CONFIGS: dict[str, dict[str, str]] = {
    "tracing off": {"OTEL_TRACES_EXPORTER": "none"},
    "tracing on, default sampling (OTLP/HTTP)": {},
    "tracing on, every trace (OTLP/HTTP)": {"OTEL_TRACES_SAMPLER": "always_on"},
}


def run(args: argparse.Namespace, env: Infra) -> Result:
    """The three runs `--rounds` times, alternating, so a slow spell of the shared machine
    falls on all three alike; each one's figures are the sums over its rounds."""
    drains: dict[str, list[Drain]] = {name: [] for name in CONFIGS}
    with simulator() as sim, collector() as otlp, Progress(console=console) as progress:
        for round_ in range(args.rounds):
            for name, config in CONFIGS.items():
                otel = (
                    config
                    if "OTEL_TRACES_EXPORTER" in config
                    else {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, **config}
                )
                spy = args.profile if round_ == 0 and "default" in name else None
                drains[name].append(_drain(args, env, sim, progress, name, spy=spy, **otel))
    off, sampled, every = (drains[name] for name in CONFIGS)
    return _result(args, off, sampled, every, off_path_ms())


def _drain(
    args: argparse.Namespace,
    env: Infra,
    sim: Simulator,
    progress: Progress,
    name: str,
    spy: Path | None = None,
    **otel: str,
) -> Drain:
    stack = Stack(env.bootstrap, env.database("tracing"), sim.agents, sim.files)
    limit = str(args.in_flight)
    settings = {"WORKER_MAX_IN_FLIGHT": limit, "ZAI_MAX_CONCURRENCY": limit, **otel}
    with workers(stack, 1, TOPIC_PARTITIONS="1", **settings) as [w], profiled(w.pid, spy):
        messages = requests_for(stack.run, args.requests)
        return asyncio.run(
            drain(env.bootstrap, stack, messages, Measured.of([w]), progress, name=name)
        )


class _Collector(http.server.BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and counts their bytes (nothing is decoded)."""

    received = 0

    def do_POST(self) -> None:
        _Collector.received += len(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def collector() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def off_path_ms(rounds: int = 200_000) -> float:
    """CPU ms per request of the tracing calls a request makes while tracing is off, less an
    empty loop's (the baseline, run alongside)."""
    from service import tracing
    from service.kafka.relay import _headers, _publish_span
    from service.pipeline.jobs.intake import Message, _intake_span
    from service.pipeline.ports import PendingEvent

    assert not tracing.enabled()
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    message = Message("requests", 0, 1, b"acme", headers, b"{}")
    row = PendingEvent(1, "results", "acme", {}, {**headers, "ce_id": "x", "ce_type": "t"})

    def one_request() -> None:
        span = _intake_span(message)
        trace = tracing.carrier_of(span, message.headers)
        tracing.tag(span, lambda: {"zai_l10n.tenant_id": "acme", "zai_l10n.request_id": "r"})
        tracing.finish(span)
        with tracing.span("job", parent=trace, attributes=lambda: {"zai_l10n.job_id": "j"}):
            with tracing.span(
                "language", attributes=lambda: {"zai_l10n.target_lang": "de"}
            ) as lang:
                with tracing.span("zai agents", attributes=lambda: {"zai.route": "agents"}):
                    tracing.annotate(lambda: {"http.response.status_code": 200})
                tracing.tag(lang, lambda: {"zai_l10n.outcome": "translation.completed"})
            tracing.outgoing(trace)
        publish = _publish_span(row)
        _headers(row, publish)
        tracing.finish(publish)

    def nothing() -> None:
        pass

    def cpu(body: Callable[[], None]) -> float:
        started = time.process_time()
        for _ in range(rounds):
            body()
        return time.process_time() - started

    return max(0.0, cpu(one_request) - cpu(nothing)) * 1000 / rounds


def _row(runs: list[Drain]) -> dict[str, Any]:
    requests, seconds = sum(d.requests for d in runs), sum(d.seconds for d in runs)
    return {
        "run": runs[0].name,
        "rounds": len(runs),
        "requests": requests,
        "seconds": round(seconds, 2),
        "req_per_s": round(requests / seconds, 1),
        "cpu_ms_per_request": round(1000 * sum(d.cpu_seconds for d in runs) / requests, 3),
        "cpu_ms_per_round": " / ".join(f"{d.cpu_ms_per_request:.2f}" for d in runs),
    }


def _result(
    args: argparse.Namespace,
    off: list[Drain],
    sampled: list[Drain],
    every: list[Drain],
    off_cost: float,
) -> Result:
    rows = [_row(off), _row(sampled), _row(every)]
    ratio = rows[1]["cpu_ms_per_request"] / rows[0]["cpu_ms_per_request"]
    full = rows[2]["cpu_ms_per_request"] / rows[0]["cpu_ms_per_request"]
    exported = _Collector.received / 1024 / (rows[1]["requests"] + rows[2]["requests"])
    return Result(
        "tracing",
        rows,
        [
            Target(
                "CPU per request, tracing on at the default sampling ÷ off ≤ 1.15",
                round(ratio, 3),
                ratio <= 1.15,
            ),
            Target("CPU per request, every trace recorded ÷ off (reported)", round(full, 3), True),
            Target(
                "tracing off: its calls cost ≤ 0.05 ms per request",
                round(off_cost, 4),
                off_cost <= 0.05,
            ),
            Target("spans exported (KiB per request, > 0)", round(exported, 2), exported > 0),
        ],
        [f"in flight {args.in_flight}, one partition, zero simulator latency"],
        plot=lambda fig: _plot(fig, rows),
    )


def _plot(fig: Figure, rows: list[dict[str, Any]]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    bars = ax.bar([r["run"] for r in rows], [r["cpu_ms_per_request"] for r in rows])
    ax.bar_label(bars, fmt="%.3g")
    ax.set_title("worker CPU ms per request")
