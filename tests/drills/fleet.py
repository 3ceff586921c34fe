"""What the process drills share: worker processes on one stack, a steady feed of requests, and
the figures and checks drawn from what came out (docs/reliability.md).

The checks are the promises of docs/pipeline.md, seen from outside:
- every (request, target language) has exactly one terminal event after dedupe by `ce_id`,
  and all copies of one `ce_id` agree (`Tally`);
- an upstream call whose async id was persisted is never submitted again (`resubmissions`):
  the simulator lists every async task it was given (`/_sim/tasks`, in submission order, with a
  digest of what was asked and how often it was polled); a task that was polled had its id
  persisted first (the worker polls only after the id is committed), and so did one whose id
  is in the database at the end. A later task asking the same is a second payment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.support.results import Received
from tests.support.worker import Stack, WorkerProcess

LANGS = ("de", "fr")
# Short leases and outbox claims, so a killed worker's jobs are taken over and its claimed
# events sent within seconds, not the minute of the defaults; tiny backoff. Not shorter: on a
# loaded machine a live worker can miss renewals for a few seconds, and its jobs would then
# bounce between workers (each bounce counts as an attempt).
FAST = {
    "WORKER_JOB_LEASE_SECONDS": "10",
    "OUTBOX_CLAIM_SECONDS": "5",
    "ZAI_BACKOFF_BASE": "0.01",
    "WORKER_GRACEFUL_TIMEOUT": "5",
}
# About one in ten requests is long: several segments packed into more than one agent call
# per language, so one language has concurrent calls whose async ids are saved side by side.
LONG_EVERY = 10
LONG_SEGMENT = "Check the invoice line {i}.{k} against the delivery note. " * 16


def request(i: int, langs: Sequence[str] = LANGS) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": f"r{i}",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": list(langs),
    }
    if i % LONG_EVERY == LONG_EVERY - 1:
        body["segments"] = [
            {"id": f"s{k}", "text": LONG_SEGMENT.format(i=i, k=k).strip()} for k in range(6)
        ]
    else:
        body["text"] = f"Drill line {i}: please check the invoice"
    return body


class Feed:
    """Publishes requests at about `rate` per second (steady load, not one burst); `sent`
    says how far it got."""

    def __init__(self, bootstrap: str, topic: str, bodies: Sequence[dict[str, Any]]) -> None:
        self.bootstrap, self.topic, self.bodies = bootstrap, topic, bodies
        self.sent = 0

    async def run(self, rate: float) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            started, step = time.monotonic(), max(1, int(rate / 10))
            for n in range(0, len(self.bodies), step):
                futures = [
                    await producer.send(
                        self.topic, json.dumps(b).encode(), key=b["tenant_id"].encode()
                    )
                    for b in self.bodies[n : n + step]
                ]
                await asyncio.gather(*futures)
                self.sent = min(len(self.bodies), n + step)
                ahead = started + self.sent / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        finally:
            await producer.stop()


async def feed(bootstrap: str, topic: str, bodies: Sequence[dict[str, Any]], rate: float) -> None:
    await Feed(bootstrap, topic, bodies).run(rate)


class Fleet:
    """Worker processes on one stack; every one gets its own log, kept for failure reports."""

    def __init__(self, stack: Stack, logs: Path, **env: str) -> None:
        self.stack, self.logs, self.env = stack, logs, {**FAST, **env}
        self.workers: list[WorkerProcess] = []

    def start(self, **env: str) -> WorkerProcess:
        log = self.logs / f"worker-{len(self.workers)}.log"
        worker = WorkerProcess(self.stack, log, **{**self.env, **env})
        self.workers.append(worker)
        return worker

    async def start_ready(self, **env: str) -> WorkerProcess:
        worker = self.start(**env)
        await asyncio.to_thread(worker.wait_ready, 120.0)
        return worker

    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.proc.poll() is None]

    def stop_all(self) -> list[int]:
        """SIGTERM every live worker; returns their exit codes (SIGKILL after 60 s)."""
        codes = []
        for worker in self.alive():
            try:
                codes.append(worker.stop(timeout=60))
            except subprocess.TimeoutExpired:
                worker.kill()
                codes.append(-9)
        return codes

    def errors(self) -> dict[str, int]:
        """ERROR/CRITICAL log lines of every worker, counted by logger."""
        found: Counter[str] = Counter()
        for path in sorted(self.logs.glob("worker-*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("level") in ("ERROR", "CRITICAL"):
                        found[str(entry.get("logger"))] += 1
                elif line.startswith("Traceback"):
                    found["traceback (not JSON)"] += 1
        return dict(sorted(found.items()))


@dataclass
class Tally:
    """What came out, against what was sent: the figures every drill records."""

    sent: Sequence[dict[str, Any]]
    results: Sequence[Received]
    dead_letters: Sequence[Received] = ()
    copies: dict[str, list[Received]] = field(init=False)

    def __post_init__(self) -> None:
        self.copies = {}
        for r in self.results:
            self.copies.setdefault(r.ce_id or "<no ce_id>", []).append(r)

    def expected(self) -> set[tuple[str, str]]:
        return {(b["request_id"], lang) for b in self.sent for lang in b["target_langs"]}

    def answered(self) -> dict[tuple[str, str], set[str]]:
        """(request, language) → the distinct `ce_id`s that answered it."""
        out: dict[tuple[str, str], set[str]] = {}
        for ce_id, copies in self.copies.items():
            event = copies[0].event
            out.setdefault((event["request_id"], event["target_lang"]), set()).add(ce_id)
        return out

    def lost(self) -> set[tuple[str, str]]:
        return self.expected() - set(self.answered())

    def disagreeing(self) -> dict[str, set[tuple[Any, ...]]]:
        """`ce_id`s whose copies are not the same outcome (type, language, code, text)."""
        out = {}
        for ce_id, copies in self.copies.items():
            kinds = {_outcome(c.event) for c in copies}
            if len(kinds) > 1 or ce_id == "<no ce_id>":
                out[ce_id] = kinds
        return out

    def figures(self) -> dict[str, Any]:
        firsts = [copies[0].event for copies in self.copies.values()]
        failed = Counter(e.get("error_code") for e in firsts if e["type"] == "translation.failed")
        answered = self.answered()
        return {
            "sent": len(self.sent),
            "expected_events": len(self.expected()),
            "completed": sum(e["type"] == "translation.completed" for e in firsts),
            "failed_by_code": dict(sorted(failed.items())),
            "dead_lettered": len(self.dead_letters),
            "records": len(self.results),
            "duplicates": len(self.results) - len(self.copies),
            "answered_twice": sum(len(ids) > 1 for ids in answered.values()),
            "lost": len(self.lost()),
        }

    def check(self) -> None:
        """Nothing lost, one distinct answer per (request, language), copies identical."""
        lost = sorted(self.lost())
        assert not lost, f"{len(lost)} (request, language) pairs unanswered: {lost[:10]}"
        twice = {k: v for k, v in self.answered().items() if len(v) > 1}
        assert not twice, f"answered with more than one ce_id: {list(twice.items())[:5]}"
        extra = set(self.answered()) - self.expected()
        assert not extra, f"answers to requests never sent: {sorted(extra)[:10]}"
        disagree = self.disagreeing()
        assert not disagree, f"copies of one ce_id disagree: {list(disagree.items())[:5]}"


def _outcome(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event.get("type"),
        event.get("request_id"),
        event.get("target_lang"),
        event.get("error_code"),
        event.get("text"),
        json.dumps(event.get("segments"), sort_keys=True),
    )


async def until(what: str, predicate: Callable[[], Awaitable[bool] | bool], within: float) -> float:
    """Wait for `predicate` (polled every 0.1 s); returns the seconds it took."""
    started = time.monotonic()
    while True:
        got = predicate()
        if got if isinstance(got, bool) else await got:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise TimeoutError(f"{what}: not reached within {within:.0f} s")
        await asyncio.sleep(0.1)


async def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql`, read on a connection of its own (no pool to go stale in an outage)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def job_states(database_url: str) -> dict[str, int]:
    """Jobs by state."""
    rows = await query(database_url, "SELECT state, count(*) FROM job GROUP BY state")
    return {state: int(n) for state, n in rows}


async def outbox_waiting(database_url: str) -> int:
    """Events written and not yet acknowledged by Kafka."""
    rows = await query(database_url, "SELECT count(*) FROM outbox_event WHERE sent_at IS NULL")
    return int(rows[0][0])


class ReadyzProbe:
    """Polls a worker's /readyz in a task of its own and keeps every answer with its time."""

    def __init__(self, worker: WorkerProcess, every: float = 0.5) -> None:
        self.worker, self.every = worker, every
        self.probes: list[tuple[float, int | None, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ReadyzProbe:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        url = f"http://127.0.0.1:{self.worker.port}/readyz"
        async with httpx.AsyncClient() as http:
            while True:
                started = time.monotonic()
                try:
                    r = await http.get(url, timeout=10)
                    status, failures = r.status_code, r.json().get("failures", {})
                except httpx.HTTPError as exc:
                    status, failures = None, {"probe": type(exc).__name__}
                self.probes.append((started, status, failures))
                await asyncio.sleep(self.every)

    def between(self, start: float, end: float) -> list[tuple[float, int | None, dict[str, Any]]]:
        return [p for p in self.probes if start <= p[0] < end]

    def timeline(self, origin: float) -> list[str]:
        """Runs of equal answers, timed from `origin`: "-3.0..5.5 s: 200", "6.0..9.5 s: 503 kafka"."""
        runs: list[list[Any]] = []
        for at, status, failures in self.probes:
            label = " ".join([str(status), *sorted(failures)])
            if runs and runs[-1][2] == label:
                runs[-1][1] = at
            else:
                runs.append([at, at, label])
        return [f"{a - origin:.1f}..{b - origin:.1f} s: {label}" for a, b, label in runs]


def upstream(sim: Any, requests: int) -> dict[str, Any]:
    """Upstream calls from the simulator's counters, against the requests and distinct calls."""
    calls = sim.counters()["calls"]
    distinct = len({t["content"] for t in sim.tasks()})
    return {
        "agent_calls": calls["agents"],
        "poll_calls": calls["async_result"],
        "distinct_calls": distinct,
        "agent_calls_per_request": round(calls["agents"] / requests, 3),
    }


async def persisted_async_ids(database_url: str) -> set[str]:
    """Every async id in the job_target table."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT async_ids FROM job_target"))).all()
    finally:
        await engine.dispose()
    ids: set[str] = set()
    for (value,) in rows:
        ids.update((json.loads(value) if isinstance(value, str) else value).values())
    return ids


def resubmissions(tasks: Iterable[dict[str, Any]], persisted: set[str]) -> dict[str, Any]:
    """Upstream submissions beyond the first of each distinct call, split by whether an earlier
    one had its async id persisted (a second payment the design rules out) or not (the worker
    died between Z.ai's answer and the commit: unavoidable, and what the figures show). The
    offending pairs (earlier persisted id, later id) come along for the failure message."""
    seen: dict[str, str | None] = {}  # call digest -> an earlier task of it that was persisted
    offending: list[tuple[str, str]] = []
    before_persisted = 0
    for task in tasks:  # oldest first
        digest = task["content"]
        if digest in seen:
            earlier = seen[digest]
            if earlier is None:
                before_persisted += 1
            else:
                offending.append((earlier, task["async_id"]))
        safe = (task["async_id"] in persisted or task["polls"] > 0) and not task["failed"]
        seen[digest] = seen.get(digest) or (task["async_id"] if safe else None)
    return {
        "resubmitted_unpersisted": before_persisted,
        "resubmitted_after_persisted": len(offending),
        "resubmitted_after_persisted_ids": offending[:10],
    }


async def holders(database_url: str, async_ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """Which job and language stored each of these async ids (for failure messages)."""
    wanted = set(async_ids)
    rows = await query(
        database_url,
        "SELECT j.request_id, t.target_lang, j.attempts, j.state, t.async_ids"
        " FROM job_target t JOIN job j ON j.id = t.job_id",
    )
    out = []
    for request_id, lang, attempts, state, ids in rows:
        ids = json.loads(ids) if isinstance(ids, str) else ids
        for key, value in ids.items():
            if value in wanted:
                out.append((value, request_id, lang, attempts, state, key[:8]))
    return out


def seeded() -> tuple[int, random.Random]:
    """A seed for a drill's random moments (DRILL_SEED, else a fresh one), recorded with its
    figures so that a run can be repeated."""
    seed = int(os.environ.get("DRILL_SEED") or random.SystemRandom().randrange(1 << 30))
    return seed, random.Random(seed)
