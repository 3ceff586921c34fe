"""Benchmark scenarios, each with its baseline in the same invocation; ratios are what count.

    .venv/bin/python benchmarks/bench.py overhead [--requests 20000] [--in-flight 64] [--postgres]

Starts (or reuses, with KAFKA_BOOTSTRAP_SERVERS) a local Kafka broker, the simulator in its own
process, and the database: SQLite in a temp dir, or with --postgres a private PostgreSQL
cluster. Writes benchmarks/results/<scenario>-<database>.json and .md; the Markdown goes into
docs/benchmarks.md. Exits non-zero when a scenario cannot run.

Scenarios:
  overhead  zero latency, one partition: the worker against a bare aiokafka → httpx → aiokafka
            loop with the same in-flight limit and no database. Requests/s, worker CPU-ms per
            request (from /proc), and the ratio. Target: ≥ 0.5 × the bare loop.
  tracing   the same worker drain twice: traces off (the baseline), then on, every span
            exported by OTLP/HTTP to a stand-in collector in this process (so the export's CPU
            is the worker's, the collector's is not): worker CPU-ms per request and their
            ratio (target ≤ 1.25). And what tracing *off* costs: the tracing calls one request
            makes (intake, job, language, one Z.ai attempt, publish) timed against an empty
            loop in this process (target ≤ 0.05 ms, 1 % of the 5 ms budget).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.devstack.kafka import start_kafka
from service.devstack.postgres import start_postgres
from tests.support.worker import Stack, WorkerProcess, free_port, publish

RESULTS = ROOT / "benchmarks" / "results"
TICKS = os.sysconf("SC_CLK_TCK")
console = Console()


@dataclass
class Drain:
    name: str
    requests: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextlib.contextmanager
def simulator(latency_ms: float) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "service", "sim", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--latency-ms", str(latency_ms)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/_sim/health", timeout=1).status_code == 200:
                break
        time.sleep(0.05)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def requests_for(run: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "request_id": f"{run}-{i}",
            "tenant_id": f"t{i % 4}",
            "source_lang": "en",
            "target_langs": ["de"],
            "text": f"Benchmark sentence number {i} of run {run}.",
        }
        for i in range(n)
    ]


async def drain(stack: Stack, pid: int, name: str, n: int, progress: Progress) -> Drain:
    """Publish n requests, wait for n results; wall time and the process's CPU meanwhile."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        stack.results,
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    task = progress.add_task(name, total=n)
    cpu0, started = cpu_seconds(pid), time.perf_counter()
    await publish(stack.bootstrap, stack.requests, requests_for(stack.run, n))  # type: ignore[arg-type]
    seen: set[str] = set()
    while len(seen) < n:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            seen.update(json.loads(r.value)["request_id"] for r in records)
        progress.update(task, completed=len(seen))
        if time.perf_counter() - started > 1800:
            raise TimeoutError(f"{name}: only {len(seen)}/{n} results after 1800 s")
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu0
    await consumer.stop()
    return Drain(name, n, elapsed, cpu)


def worker_drain(
    bootstrap: str, db_url: str, sim: str, n: int, progress: Progress, **env: str
) -> Drain:
    stack = Stack(bootstrap, db_url, f"{sim}/api/v1", f"{sim}/api/paas/v4")
    with tempfile.TemporaryDirectory() as tmp:
        worker = WorkerProcess(stack, Path(tmp) / "worker.log", TOPIC_PARTITIONS="1", **env)
        worker.wait_ready()
        spy = _profile(worker.proc.pid)
        try:
            return asyncio.run(drain(stack, worker.proc.pid, "worker", n, progress))
        finally:
            if spy:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                spy.wait(timeout=60)
            worker.stop()


def bare_drain(bootstrap: str, sim: str, n: int, in_flight: int, progress: Progress) -> Drain:
    stack = Stack(bootstrap, "", f"{sim}/api/v1", f"{sim}/api/paas/v4")
    asyncio.run(_create_topics(bootstrap, [stack.requests, stack.results]))
    script = ROOT / "benchmarks" / "bare_loop.py"
    args = [bootstrap, stack.requests, stack.results, f"{sim}/api/v1", str(in_flight)]
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=ROOT)
    try:
        return asyncio.run(drain(stack, proc.pid, "bare loop", n, progress))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


PROFILE: Path | None = None


def _profile(pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy on the worker during the drain, collapsed stacks to PROFILE (--profile)."""
    if PROFILE is None:
        return None
    spy = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "-r", "200"]
    return subprocess.Popen([*spy, "-f", "raw", "-o", str(PROFILE)], stdout=subprocess.DEVNULL)


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in names])
    finally:
        await admin.close()


def overhead(args: argparse.Namespace, bootstrap: str, db_url: str) -> dict[str, Any]:
    n, limit = args.requests, args.in_flight
    with simulator(0.0) as sim, Progress(console=console) as progress:
        bare = bare_drain(bootstrap, sim, n, limit, progress)
        worker = worker_drain(bootstrap, db_url, sim, n, progress, WORKER_MAX_IN_FLIGHT=str(limit))
    ratio = worker.rate / bare.rate
    rows = [
        {
            "run": d.name,
            "requests": d.requests,
            "seconds": round(d.seconds, 2),
            "req_per_s": round(d.rate, 1),
            "cpu_ms_per_request": round(d.cpu_ms_per_request, 2),
        }
        for d in (bare, worker)
    ]
    targets = [
        {"target": "worker ≥ 0.5 × bare loop", "value": round(ratio, 3), "met": ratio >= 0.5},
        {
            "target": "worker CPU ≤ 5 ms per request",
            "value": round(worker.cpu_ms_per_request, 2),
            "met": worker.cpu_ms_per_request <= 5,
        },
    ]
    return {"rows": rows, "targets": targets, "in_flight": limit}


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
    """CPU-ms per request of the tracing calls a request makes while tracing is off, less an
    empty loop's (the baseline, run alongside)."""
    from service import tracing
    from service.kafka.relay import _headers, _publish_span
    from service.pipeline.intake import Message, _intake_span
    from service.pipeline.ports import PendingEvent

    assert not tracing.enabled()
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    message = Message("requests", 0, 1, b"acme", headers, b"{}")
    row = PendingEvent(1, "results", "acme", {}, {**headers, "ce_id": "x", "ce_type": "t"})

    def one_request() -> None:
        span = _intake_span(message)
        trace = tracing.carrier_of(span, message.headers)
        tracing.tag(span, {"zai_l10n.tenant_id": "acme", "zai_l10n.request_id": "r"})
        tracing.finish(span)
        with tracing.span("job", parent=trace, attributes={"zai_l10n.job_id": "j"}):
            with tracing.span("language", attributes={"zai_l10n.target_lang": "de"}) as lang:
                with tracing.span("zai agents", attributes={"zai.route": "agents"}):
                    tracing.annotate({"http.response.status_code": 200})
                tracing.tag(lang, {"zai_l10n.outcome": "translation.completed"})
            tracing.outgoing(trace)
        publish = _publish_span(row)
        _headers(row, publish)
        tracing.finish(publish)

    def nothing() -> None:
        pass

    def cpu(body: Any) -> float:
        started = time.process_time()
        for _ in range(rounds):
            body()
        return time.process_time() - started

    return max(0.0, cpu(one_request) - cpu(nothing)) * 1000 / rounds


def tracing(args: argparse.Namespace, bootstrap: str, db_url: str) -> dict[str, Any]:
    n, limit = args.requests, args.in_flight
    common = {"WORKER_MAX_IN_FLIGHT": str(limit)}
    with simulator(0.0) as sim, collector() as otlp, Progress(console=console) as progress:
        off = worker_drain(
            bootstrap, db_url, sim, n, progress, OTEL_TRACES_EXPORTER="none", **common
        )
        on = worker_drain(
            bootstrap, db_url, sim, n, progress, OTEL_EXPORTER_OTLP_ENDPOINT=otlp, **common
        )
    off.name, on.name = "tracing off", "tracing on (OTLP/HTTP)"
    ratio = on.cpu_ms_per_request / off.cpu_ms_per_request
    off_cost = off_path_ms()
    rows = [
        {
            "run": d.name,
            "requests": d.requests,
            "seconds": round(d.seconds, 2),
            "req_per_s": round(d.rate, 1),
            "cpu_ms_per_request": round(d.cpu_ms_per_request, 2),
        }
        for d in (off, on)
    ]
    targets = [
        {
            "target": "CPU per request, tracing on ÷ off ≤ 1.25",
            "value": round(ratio, 3),
            "met": ratio <= 1.25,
        },
        {
            "target": "tracing off: its calls cost ≤ 0.05 ms per request",
            "value": round(off_cost, 4),
            "met": off_cost <= 0.05,
        },
        {
            "target": "spans exported (KiB per request, > 0)",
            "value": round(_Collector.received / 1024 / n, 2),
            "met": _Collector.received > 0,
        },
    ]
    return {"rows": rows, "targets": targets, "in_flight": limit}


SCENARIOS = {"overhead": overhead, "tracing": tracing}


def markdown(name: str, result: dict[str, Any], meta: dict[str, Any]) -> str:
    rows = result["rows"]
    head = list(rows[0])
    lines = [
        f"### {name} ({meta['database']}, {meta['date']})",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        *("| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows),
        "",
        *(
            f"- {t['target']}: **{t['value']}** ({'met' if t['met'] else 'missed'})"
            for t in result["targets"]
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--in-flight", type=int, default=64)
    p.add_argument("--postgres", action="store_true", help="a private PostgreSQL, not SQLite")
    p.add_argument("--profile", type=Path, help="py-spy the worker: collapsed stacks to this file")
    args = p.parse_args()
    global PROFILE
    PROFILE = args.profile
    kafka = pg = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ""
    try:
        if not bootstrap:
            kafka = start_kafka()
            bootstrap = kafka.bootstrap_servers
        with tempfile.TemporaryDirectory() as tmp:
            if args.postgres:
                pg = start_postgres()
                db_url = pg.url
            else:
                db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            result = SCENARIOS[args.scenario](args, bootstrap, db_url)
    finally:
        if pg:
            pg.stop()
        if kafka:
            kafka.stop()
    meta = {
        "database": "PostgreSQL" if args.postgres else "SQLite",
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["benchmarks/bench.py", *sys.argv[1:]]),
    }
    report(args.scenario, result, meta)
    return 0


def report(name: str, result: dict[str, Any], meta: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stem = f"{name}-{meta['database'].lower()}"
    (RESULTS / f"{stem}.json").write_text(json.dumps({**meta, **result}, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(name, result, meta))
    table = Table(title=f"{name} ({meta['database']})")
    for key in result["rows"][0]:
        table.add_column(key)
    for row in result["rows"]:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    for t in result["targets"]:
        console.print(f"{t['target']}: {t['value']} ({'met' if t['met'] else 'MISSED'})")


if __name__ == "__main__":
    sys.exit(main())
