"""Load and measurement: publish requests, read the result events, time them.

Times come from Kafka record timestamps (CreateTime, set by each producer on this machine), so
a result's time is when the worker's relay sent it, not when this process got round to reading
it. A drain runs the publisher and the reader at once; it fails if a measured process dies or
the results stop coming.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.progress import Progress

from benchmarks.suite.infra import ROOT, Sampler, cpu_seconds
from tests.support.worker import Stack, WorkerProcess


def requests_for(run: str, n: int, *, tenants: int = 4, **fields: Any) -> list[dict[str, Any]]:
    """n single-language text requests, spread over `tenants` tenants (the message keys)."""
    return [
        {
            "request_id": f"{run}-{i}",
            "tenant_id": f"t{i % tenants}",
            "source_lang": "en",
            "target_langs": ["de"],
            "text": f"Benchmark sentence number {i} of run {run}.",
            **fields,
        }
        for i in range(n)
    ]


@dataclass
class Drain:
    """What one drain measured. Times are seconds since the epoch."""

    name: str
    requests: int
    started: float
    finished: list[float]  # when each result event was sent, sorted
    cpu_seconds: float
    sent: dict[str, float] = field(default_factory=dict)  # request id -> publish time
    latencies_ms: list[float] = field(default_factory=list)  # result time - publish time
    events: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)

    @property
    def seconds(self) -> float:
        return self.finished[-1] - self.started

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def steady_rate(self) -> float:
        return steady_rate(self.finished)

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests


def steady_rate(finished: Sequence[float], wave: int = 1) -> float:
    """Results per second between the 10th and the 90th percentile of completions: the rate
    once the pipeline is full, without the ramp-up and the tail. With fewer than 10 results,
    the rate between the first and the last.

    `wave`: the window spans a whole number of `wave` completions (a worker at in-flight N
    with a fixed upstream latency finishes its jobs in waves of N: a window from inside one
    wave to inside another counts a fraction of a wave more than the waves' time holds, and
    read 0.91 × the true rate for 8 waves of 64 whose cycle was exactly 1 s; see
    docs/benchmarks.md, "latency"). For results that come evenly it changes nothing."""
    n = len(finished)
    lo, hi = (int(n * 0.1), int(n * 0.9) - 1) if n >= 10 else (0, n - 1)
    if wave > 1 and hi - lo >= wave:
        hi = lo + wave * ((hi - lo) // wave)
    if hi <= lo or finished[hi] <= finished[lo]:
        return float("nan")
    return (hi - lo) / (finished[hi] - finished[lo])


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def publish(
    bootstrap: str,
    topic: str,
    messages: Sequence[dict[str, Any]],
    *,
    rate: float | None = None,
) -> dict[str, float]:
    """Publish keyed by tenant (so tenants spread over partitions); `rate` paces the sends.
    Returns each request's publish time (its record timestamp)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    sent: dict[str, float] = {}
    pending: list[tuple[str, Any]] = []
    t0 = time.monotonic()
    try:
        for i, m in enumerate(messages):
            if rate:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            future = await producer.send(topic, json.dumps(m).encode(), key=m["tenant_id"].encode())
            pending.append((m["request_id"], future))
            if len(pending) >= 1000 or rate:
                await _settle(pending, sent)
        await _settle(pending, sent)
    finally:
        await producer.stop()
    return sent


async def _settle(pending: list[tuple[str, Any]], sent: dict[str, float]) -> None:
    for request_id, future in pending:
        metadata = await future
        sent[request_id] = metadata.timestamp / 1000
    pending.clear()


@dataclass
class Reader:
    """Reads result events of the requests `ids` until `expected` (request, language) pairs
    have arrived; earlier runs' events on the same topic are skipped."""

    bootstrap: str
    topic: str
    ids: set[str]
    expected: int
    keep_events: bool = False
    finished: dict[tuple[str, str], float] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
        )
        await self._consumer.start()

    async def read(self, alive: Callable[[], None], stall: float, tick: Callable[[], None]) -> None:
        """Fails when `alive` raises or no result arrived for `stall` seconds."""
        assert self._consumer is not None
        last_progress = time.monotonic()
        while len(self.finished) < self.expected:
            batch = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            before = len(self.finished)
            for records in batch.values():
                for r in records:
                    self._take(r)
            alive()
            tick()
            if len(self.finished) > before:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > stall:
                raise TimeoutError(
                    f"{len(self.finished)}/{self.expected} results, none for {stall:.0f} s"
                )

    def _take(self, record: Any) -> None:
        event = json.loads(record.value)
        key = (event.get("request_id", ""), event.get("target_lang", ""))
        if key[0] not in self.ids:
            return
        self.finished.setdefault(key, record.timestamp / 1000)
        if self.keep_events:
            self.events.append(event)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Measured:
    """The processes a drain measures, and how to tell they are still alive."""

    pids: list[int]
    alive: Callable[[], None] = lambda: None
    sample_rss: bool = False

    @classmethod
    def of(cls, workers: Sequence[Worker], *, sample_rss: bool = False) -> Measured:
        def alive() -> None:
            for w in workers:
                w.alive()

        return cls([w.pid for w in workers], alive, sample_rss)


async def drain(
    bootstrap: str,
    stack: Stack,
    messages: Sequence[dict[str, Any]],
    measured: Measured,
    progress: Progress,
    *,
    name: str,
    languages: int = 1,
    rate: float | None = None,
    keep_events: bool = False,
    stall_timeout: float = 300.0,
) -> Drain:
    """Publish `messages` and wait for every result; CPU (and RSS) of `measured` meanwhile."""
    ids = {m["request_id"] for m in messages}
    reader = Reader(bootstrap, stack.results, ids, len(messages) * languages, keep_events)
    await reader.start()
    task = progress.add_task(name, total=reader.expected)
    sampler = Sampler(measured.pids).start() if measured.sample_rss else None
    cpu0, started = sum(cpu_seconds(p) for p in measured.pids), time.time()
    try:
        sent, _ = await asyncio.gather(
            publish(bootstrap, stack.requests, messages, rate=rate),
            reader.read(
                measured.alive,
                stall_timeout,
                lambda: progress.update(task, completed=len(reader.finished)),
            ),
        )
    finally:
        rss = sampler.stop() if sampler else []
        await reader.stop()
    cpu = sum(cpu_seconds(p) for p in measured.pids) - cpu0
    finished = sorted(reader.finished.values())
    latencies = [1000 * (t - sent[rid]) for (rid, _), t in reader.finished.items() if rid in sent]
    return Drain(name, len(messages), started, finished, cpu, sent, latencies, reader.events, rss)


# --- the worker ------------------------------------------------------------------------------


class Worker:
    """`zai-l10n worker` in its own process, on the stack's topics and database."""

    def __init__(self, stack: Stack, **env: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="zai-bench-worker-")
        self.log = Path(self._dir.name) / "worker.log"
        env.setdefault("LOG_LEVEL", "INFO")  # the service's default, its log lines included
        self.process = WorkerProcess(stack, self.log, **env)

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def alive(self) -> None:
        if self.process.proc.poll() is not None:
            raise RuntimeError(
                f"the worker exited with {self.process.proc.returncode}:\n{self.tail()}"
            )

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def metrics(self) -> str:
        return self.process.get("/metrics").text

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.process.stop()
        self._dir.cleanup()


@contextlib.contextmanager
def workers(stack: Stack, count: int = 1, **env: str) -> Iterator[list[Worker]]:
    """`count` workers in one consumer group, ready before this yields. The first is ready
    (its migrations done) before the others start: two workers migrating a fresh PostgreSQL
    database at once race on creating alembic's table, and one exits."""
    started: list[Worker] = []
    try:
        for i in range(count):
            started.append(Worker(stack, **env))
            if i == 0 or i == count - 1:
                for w in started:
                    _ready(w)
        yield started
    finally:
        for w in started:
            w.stop()


def _ready(worker: Worker) -> None:
    try:
        worker.process.wait_ready(timeout=120)
    except Exception as exc:
        raise RuntimeError(f"the worker did not get ready: {exc}\n{worker.tail()}") from exc


# --- baselines -------------------------------------------------------------------------------


@contextlib.contextmanager
def baseline(script: str, stack: Stack, *args: str) -> Iterator[Measured]:
    """A baseline process (benchmarks/SCRIPT BOOTSTRAP REQUESTS RESULTS ARGS...) on new
    one-partition topics."""
    asyncio.run(create_topics(stack.bootstrap, [stack.requests, stack.results], partitions=1))
    with tempfile.TemporaryFile() as log:
        cmd = [sys.executable, str(ROOT / "benchmarks" / script)]
        proc = subprocess.Popen(
            [*cmd, stack.bootstrap, stack.requests, stack.results, *args],
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )

        def alive() -> None:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"{script} exited with {proc.returncode}:\n{tail}")

        try:
            yield Measured([proc.pid], alive)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in names])
    finally:
        await admin.close()
