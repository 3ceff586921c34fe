"""Database outage drill: PostgreSQL goes away under load, then comes back.

One worker process runs the same workload twice against a private PostgreSQL cluster: first a
baseline, then with the cluster stopped while most jobs are queued or in flight. The worker
must stay up, say not-ready naming the database while it is gone, recover by itself, answer
every request exactly once, and pay for no more agent calls than the baseline did.

Short (CI): 150 requests, 8 s outage. Long: 1,000 requests, 20 s outage
(`bash scripts/drills.sh -k database`). Figures: printed and recorded (tests/drills/scale.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from devstack.postgres import LocalPostgres, start_postgres
from tests.drills.fleet import Tally
from tests.drills.scale import pick, record
from tests.fixtures.databases import _fresh_postgres
from tests.support.results import TopicCollector
from tests.support.worker import Stack, WorkerProcess, publish

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

REQUESTS = pick(short=150, long=1000)
OPEN_AT_STOP = pick(short=110, long=750)  # jobs queued or running when the database goes away
# ...and the executor past its first claims: agent calls are on the wire, so replies arrive
# while the database is gone (before that, the running jobs are still reading their context).
CALLS_AT_STOP = pick(short=30, long=50)
OUTAGE_S = pick(short=8.0, long=20.0)
LATENCY_MS = 300
# The lease is far shorter than the outage: every lease held when the database stops has run
# out by the time it is back. A worker that then re-claims its own jobs, or drops the upstream
# results it got during the outage, pays for them twice and the agent-call count shows it.
# With the 60 s default the leases would outlive the outage and hide that mistake.
ENV = {"WORKER_JOB_LEASE_SECONDS": "5", "ZAI_BACKOFF_BASE": "0.01", "WORKER_GRACEFUL_TIMEOUT": "5"}


@pytest.fixture
def private_pg(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalPostgres]:
    """A cluster of this test's own that it may stop; the session's shared one is untouched."""
    monkeypatch.delenv("DATABASE_URL", raising=False)  # else start_postgres returns that one
    # Its own temp dir under /tmp, not tmp_path: as root the server runs as `postgres`, which
    # cannot enter pytest's 0700 base dir.
    pg = start_postgres()
    try:
        yield pg
    finally:
        pg.stop()  # fine while paused too: stop() only runs pg_ctl when a server is up


def bodies() -> list[dict[str, Any]]:
    return [
        {
            "request_id": f"r{i}",
            "tenant_id": "acme",
            "source_lang": "en",
            "target_langs": ["de"],
            "text": f"Outage drill line {i}: please check the invoice",
        }
        for i in range(REQUESTS)
    ]


def log_summary(log: Path) -> str:
    """The worker log in brief: error counts, and the fatal traceback's frames in our code."""
    lines = log.read_text(errors="replace").splitlines()
    errors = Counter(
        f"{e.get('logger')}: {e.get('msg')}"
        for e in (json.loads(line) for line in lines if line.startswith("{"))
        if e.get("level") in ("ERROR", "CRITICAL")
    )
    out = [
        f"{log} ({len(lines)} lines); logged errors:",
        *(f"  {n}x {m}" for m, n in errors.items()),
    ]
    opened = [i for i, line in enumerate(lines) if line.startswith("╭")]  # rich traceback boxes
    closed = [i for i, line in enumerate(lines) if line.startswith("╰")]
    if opened and closed:
        frames = re.findall(r"(\S*/service/\S+:\d+ in \w+)", "\n".join(lines[opened[-1] :]))
        out += ["fatal traceback, frames in service/:", *(f"  {f}" for f in frames)]
        out += lines[closed[-1] + 1 :]
    else:
        out += [line[:300] for line in lines[-10:]]
    return "\n".join(out)


def alive(worker: WorkerProcess, log: Path, when: str) -> None:
    code = worker.proc.poll()
    assert code is None, f"the worker exited (code {code}) {when}\n{log_summary(log)}"


async def job_states(probe: AsyncEngine) -> dict[str, int]:
    async with probe.connect() as conn:
        rows = (await conn.execute(text("SELECT state, count(*) FROM job GROUP BY state"))).all()
    return {state: int(n) for state, n in rows}


async def readyz(http: httpx.AsyncClient, worker: WorkerProcess) -> tuple[int | None, str]:
    try:
        r = await http.get(f"http://127.0.0.1:{worker.port}/readyz", timeout=10)
    except httpx.HTTPError as exc:
        return None, repr(exc)
    return r.status_code, r.text


async def run_workload(
    pg: LocalPostgres, bootstrap: str, sim: Any, log: Path, outage_s: float
) -> tuple[dict[str, Any], Tally]:
    """One run on a fresh database and fresh topics; `outage_s` 0 is the baseline."""
    sim.reset()  # counters from zero; the config goes back to startup, so set latency again
    sim.configure(latency_ms=LATENCY_MS)
    url, _ = await _fresh_postgres(pg.url)
    stack = Stack(bootstrap, url, sim.agents_base, sim.files_base)
    probe = create_async_engine(url, poolclass=NullPool)  # no pooled connection to go stale
    worker = WorkerProcess(stack, log, **ENV)
    fig: dict[str, Any] = {"outage_s": outage_s}
    try:
        await asyncio.to_thread(worker.wait_ready)
        async with (
            TopicCollector(bootstrap, stack.results) as results,
            TopicCollector(bootstrap, stack.dlq) as dlq,
            httpx.AsyncClient() as http,
        ):
            started = time.monotonic()
            await publish(bootstrap, stack.requests, bodies())
            # Both runs wait for this, so they stay alike up to the stop.
            deadline = time.monotonic() + 30
            while True:
                states = await job_states(probe)
                open_jobs = states.get("queued", 0) + states.get("running", 0)
                calls = sim.counters()["calls"]["agents"]
                if open_jobs >= OPEN_AT_STOP and calls >= CALLS_AT_STOP:
                    break
                assert time.monotonic() < deadline, f"stop point not reached: {states}, {calls}"
                await asyncio.sleep(0.05)
            fig["open_at_stop"], fig["running_at_stop"] = open_jobs, states.get("running", 0)
            fig["agent_calls_at_stop"] = calls
            resumed = time.monotonic()
            if outage_s:
                await asyncio.to_thread(pg.pause)
                stopped = time.monotonic()
                probes: list[tuple[float, int | None, str]] = []

                async def probe_readiness() -> None:
                    while True:
                        into = time.monotonic() - stopped
                        probes.append((into, *await readyz(http, worker)))
                        await asyncio.sleep(0.5)

                # Probes in their own task: a slow /readyz must not delay noticing an exit.
                prober = asyncio.create_task(probe_readiness())
                try:
                    while (into := time.monotonic() - stopped) < outage_s:
                        alive(worker, log, f"{into:.1f} s into the database outage")
                        await asyncio.sleep(0.2)
                finally:
                    prober.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await prober
                alive(worker, log, "at the end of the database outage")
                fig["agent_calls_during_outage"] = (
                    sim.counters()["calls"]["agents"] - fig["agent_calls_at_stop"]
                )
                fig["events_during_outage"] = sum(r.at >= stopped for r in results.received)
                await asyncio.to_thread(pg.resume)
                resumed = time.monotonic()
                fig["outage_measured_s"] = round(resumed - stopped, 1)
                # Not ready while the database is gone (a readiness cache of up to 5 s is fine).
                late = [p for p in probes if p[0] >= 5.0]
                wrong = [p for p in late if p[1] != 503 or "database" not in p[2]]
                assert late and not wrong, f"/readyz during the outage: {wrong or probes}"
                fig["readyz_during_outage"] = f"{len(probes)} probes, last: {probes[-1][1:]}"
                deadline = time.monotonic() + 30
                while (status := await readyz(http, worker))[0] != 200:
                    alive(worker, log, "after the database came back")
                    assert time.monotonic() < deadline, f"not ready 30 s after restart: {status}"
                    await asyncio.sleep(0.2)
                fig["ready_after_restart_s"] = round(time.monotonic() - resumed, 1)
            # Every request answered and every job done, within a bound. `resumed` is the
            # restart (baseline: the same point of the run), the drain is measured from it.
            deadline = time.monotonic() + 180
            while True:
                alive(worker, log, "while draining")
                answered = {r.event.get("request_id") for r in results.received}
                states = await job_states(probe)
                if len(answered) >= REQUESTS and set(states) == {"done"}:
                    break
                missing = REQUESTS - len(answered)
                assert time.monotonic() < deadline, f"{missing} unanswered after 180 s: {states}"
                await asyncio.sleep(0.2)
            last = max(r.at for r in results.received)
            await asyncio.sleep(2)  # late duplicates or stray calls would show up here
            alive(worker, log, "after the drill")
            fig["drain_s"] = round(last - resumed, 1)
            fig["run_s"] = round(last - started, 1)
            fig["agent_calls"] = sim.counters()["calls"]["agents"]
            fig["records"] = len(results.received)
            fig["exit_code"] = worker.stop()
        return fig, Tally(bodies(), results.received, dlq.received)
    finally:
        try:
            worker.stop(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await probe.dispose()


def show(name: str, fig: dict[str, Any]) -> None:
    print(f"\n[database outage drill] {name}:")
    for key, value in fig.items():
        print(f"  {key:24} {value}")


async def test_worker_rides_out_a_database_outage_and_pays_nothing_twice(
    private_pg: LocalPostgres, kafka_bootstrap_servers: str, sim: Any, tmp_path: Path
) -> None:
    base, base_tally = await run_workload(
        private_pg, kafka_bootstrap_servers, sim, tmp_path / "baseline.log", 0
    )
    base |= base_tally.figures()
    show("baseline, no outage", base)
    base_tally.check()
    assert base["exit_code"] == 0
    assert base["agent_calls"] == REQUESTS, "baseline: one agent call per request expected"

    log = tmp_path / "outage.log"
    out, out_tally = await run_workload(private_pg, kafka_bootstrap_servers, sim, log, OUTAGE_S)
    out |= out_tally.figures()
    show(f"{OUTAGE_S:.0f} s database outage", out)
    record("database-outage", {"baseline": base, "outage": out})
    out_tally.check()
    assert out["completed"] == REQUESTS, out["failed_by_code"]
    assert out["exit_code"] == 0, log_summary(log)
    assert out["agent_calls"] <= base["agent_calls"], (
        f"{out['agent_calls']} agent calls with the outage, {base['agent_calls']} without: "
        "upstream results were thrown away and paid for again"
    )
