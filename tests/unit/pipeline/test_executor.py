"""The executor and the intake over fakes of the ports: misconfiguration, give-up, lease loss,
a crash that cancels the job's other languages, and database outages that pause, not crash."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from service.errors import StoreUnavailable
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.pipeline.contract.states import JobState
from service.pipeline.jobs.executor import Executor, ExecutorConfig
from service.pipeline.jobs.intake import Intake, IntakeConfig, Message
from tests.unit.pipeline.fakes import Rig, ScriptedZai, request, rig, segments

OWNER = "worker-1"


def executor(r: Rig, **config: Any) -> Executor:
    cfg = ExecutorConfig(owner=OWNER, results_topic="results", idle_poll=0.01, **config)
    return Executor(r.deps, r.tenants, r.glossaries, cfg)


@contextlib.asynccontextmanager
async def running(ex: Executor) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(ex.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task
        await ex.drain(1.0)


async def until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    # Polling on purpose: the fakes are plain objects with no events to wait on.
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def done(r: Rig, rid: str) -> bool:
    return r.store.by_request(rid).state is JobState.done


async def test_jobs_run_to_completion_and_their_events_reach_the_outbox() -> None:
    r = rig()
    r.store.add(request("a", target_langs=["de", "fr"]))
    async with running(executor(r)):
        await until(lambda: done(r, "a"))
    outcomes = r.store.outcomes("a")
    assert {lang: o["text"] for lang, o in outcomes.items()} == {
        "de": "[de] Hello",
        "fr": "[fr] Hello",
    }
    assert sorted(e.payload["target_lang"] for e in r.store.outbox) == ["de", "fr"]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda r: r.tenants.corrupt.add("acme"), "tenant.credential_invalid"),
        (lambda r: r.store.glossary_for.update(acme=("g1", 7)), "glossary.version_missing"),
    ],
)
async def test_a_misconfigured_job_fails_at_once_with_its_own_code(setup: Any, code: str) -> None:
    r = rig()
    setup(r)
    r.store.add(request("m", target_langs=["de", "fr"]))
    async with running(executor(r)):
        await until(lambda: done(r, "m"))
    outcomes = r.store.outcomes("m").values()
    assert {(o["error_code"], o["retryable"]) for o in outcomes} == {(code, False)}
    assert r.store.by_request("m").attempts == 1 and r.zai.calls == []


async def test_a_requested_glossary_that_does_not_exist_is_not_found() -> None:
    r = rig()
    r.store.add(request("g", glossary="nope"))
    async with running(executor(r)):
        await until(lambda: done(r, "g"))
    assert r.store.outcomes("g")["de"]["error_code"] == "glossary.not_found"


async def test_a_glossary_for_another_source_language_is_a_mismatch_when_requested() -> None:
    r = rig()
    r.glossaries.add("g1", 1, GlossaryDocument("fr", (GlossaryEntry("facture", {"de": "R"}),)))
    r.store.add(request("x", glossary="g1"), glossary=("g1", 1))
    async with running(executor(r)):
        await until(lambda: done(r, "x"))
    assert r.store.outcomes("x")["de"]["error_code"] == "glossary.source_mismatch"


async def test_an_unsupported_pair_fails_that_language_only() -> None:
    r = rig()
    r.store.add(request("p", target_langs=["en", "de"]))
    async with running(executor(r)):
        await until(lambda: done(r, "p"))
    outcomes = r.store.outcomes("p")
    assert outcomes["en"]["error_code"] == "request.unsupported_pair"
    assert outcomes["de"]["type"] == "translation.completed"
    assert r.zai.calls_for("en") == []


async def test_a_job_that_crashed_too_often_is_given_up() -> None:
    r = rig()
    r.store.add(request("c"), attempts=5)  # claimed a sixth time now
    async with running(executor(r, max_attempts=5)):
        await until(lambda: done(r, "c"))
    assert r.store.outcomes("c")["de"]["error_code"] == "internal.attempts_exhausted"
    assert r.zai.calls == []


@dataclass
class CrashingZai(ScriptedZai):
    """A bug (not an upstream error) in every call of one language; the others answer."""

    crash_lang: str = "fr"

    async def _agents(self, body: dict[str, Any]) -> httpx.Response:
        if body["custom_variables"]["target_lang"] == self.crash_lang:
            self.calls.append((time.monotonic(), self.crash_lang, ""))
            raise RuntimeError("a bug, not an upstream error")
        return await super()._agents(body)


async def test_a_crash_in_one_language_cancels_the_others_and_leaves_the_job_to_its_lease() -> None:
    r = rig(CrashingZai(latency=0.2), packing=False)
    r.store.add(request("k", target_langs=["de", "fr"], text=None, segments=segments(3)))
    ex = executor(r)
    async with running(ex):
        await until(lambda: r.zai.calls != [] and not ex.running)
    job = r.store.by_request("k")
    assert job.state is JobState.running and job.owner == OWNER  # retried after its lease
    assert r.zai.calls_for("de") != []  # de was under way when fr crashed, and was cancelled
    assert r.store.outbox == [] and r.store.outcomes("k") == {}
    assert r.memory.entries == {}


async def test_a_job_writing_its_results_gives_its_slot_to_the_next_one() -> None:
    """One slot, completions held: the next job's upstream call starts while the first job's
    completion is still being written; at most one more job may be finishing so."""
    r = rig(ScriptedZai(latency=0.01))
    for rid in ("a", "b", "c"):
        r.store.add(request(rid, text=f"Hello {rid}"))
    gate, complete = asyncio.Event(), r.store.complete

    async def held(completion: Any) -> bool:
        await gate.wait()
        return await complete(completion)

    r.store.complete = held  # type: ignore[method-assign]
    ex = executor(r, max_in_flight=1)
    async with running(ex):
        await until(lambda: len(r.zai.calls) == 2)  # a's slot went to b
        await asyncio.sleep(0.1)
        assert len(r.zai.calls) == 2 and len(ex.running) == 2  # c waits: two are finishing
        assert not any(done(r, rid) for rid in "abc")
        assert len(r.memory.entries) == 0  # memory entries go with the completion
        gate.set()
        await until(lambda: all(done(r, rid) for rid in "abc"))
    assert len(r.zai.calls) == 3 and len(r.store.outbox) == 3


async def test_a_finishing_job_is_not_cancelled_by_a_renewal_its_completion_decides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A renewal that misses a finishing job (its completion committed meanwhile, or another
    worker took it) does not cancel it: the completion checks the lease."""
    r = rig()
    r.store.add(request("f"))
    gate, complete = asyncio.Event(), r.store.complete

    async def held(completion: Any) -> bool:
        await gate.wait()
        return await complete(completion)

    r.store.complete = held  # type: ignore[method-assign]
    ex = executor(r)
    async with running(ex):
        await until(lambda: bool(r.zai.calls))
        await asyncio.sleep(0.05)
        r.store.by_request("f").owner = "worker-2"  # taken over while the result is written
        await ex.renew_once()
        assert ex.running  # not cancelled
        gate.set()
        await until(lambda: not ex.running)
    assert r.store.outbox == [] and not done(r, "f")
    assert "lease lost; cancelling the job" not in caplog.messages
    assert "lease lost before completion; another worker finishes the job" in caplog.messages


async def test_a_job_whose_lease_another_worker_took_is_cancelled_and_not_completed() -> None:
    r = rig(ScriptedZai(latency=0.3), packing=False)
    r.store.add(request("l", text=None, segments=segments(8)))
    ex = executor(r)
    async with running(ex):
        await until(lambda: bool(r.zai.calls))
        r.store.by_request("l").owner = "worker-2"  # its lease ran out and worker-2 claimed it
        await ex.renew_once()
        await until(lambda: not ex.running)
    assert r.store.outbox == [] and r.store.by_request("l").owner == "worker-2"
    assert len(r.zai.calls) <= 8


async def test_a_completion_refused_for_a_lost_lease_is_not_counted() -> None:
    """The worker that took the job over counts it; counting here too would count it twice."""
    r = rig(ScriptedZai(latency=0.2))
    r.store.add(request("m"))
    async with running(executor(r)):
        await until(lambda: bool(r.zai.calls))
        r.store.by_request("m").owner = "worker-2"  # taken over; renewal has not noticed yet
        await until(lambda: r.metrics.upstream_calls.labels("agents", "ok")._value.get() == 1)
        await asyncio.sleep(0.05)
    assert r.store.outbox == [] and r.metrics.completed._value.get() == 0


async def test_a_lease_lost_before_the_async_id_is_saved_ends_the_job_here_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = rig(ScriptedZai(async_mode=True, latency=0.2))
    r.store.add(request("s", target_langs=["de", "fr"]))
    ex = executor(r)
    async with running(ex):
        await until(lambda: len(r.zai.calls) == 2)
        r.store.by_request("s").owner = "worker-2"  # claimed while the calls were on the wire
        await until(lambda: not ex.running)
    job = r.store.by_request("s")
    assert r.zai.polls == 0 and r.store.saved_async_ids == [] and r.store.outbox == []
    assert job.owner == "worker-2" and job.state is JobState.running
    assert "lease lost; another worker finishes the job" in caplog.messages
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


async def test_while_the_database_is_down_nothing_is_claimed_and_then_everything_is() -> None:
    r = rig()
    r.outage.down = True
    r.store.add(request("d1"))
    ex = executor(r)
    async with running(ex):
        await asyncio.sleep(0.1)
        assert r.zai.calls == [] and r.store.by_request("d1").state is JobState.queued
        r.outage.down = False
        await until(lambda: done(r, "d1"))
    assert r.outage.refused >= 1


async def test_a_completion_that_hits_an_outage_is_written_once_the_database_is_back() -> None:
    r = rig(ScriptedZai(latency=0.05))
    r.store.add(request("w"))
    ex = executor(r)
    async with running(ex):
        await until(lambda: bool(r.zai.calls))
        r.outage.down = True  # the reply is on its way; memory and completion must wait
        await asyncio.sleep(0.2)
        assert not done(r, "w") and ex.running
        r.outage.down = False
        await until(lambda: done(r, "w"))
    assert len(r.zai.calls) == 1 and r.waits  # paid once, waited for the database


# --- intake --------------------------------------------------------------------------------


def intake(r: Rig, **config: Any) -> Intake:
    return Intake(r.store, r.metrics, IntakeConfig("results", "dlq", **config), clock=lambda: 0.0)


def message(offset: int, value: bytes) -> Message:
    return Message("requests", 0, offset, b"acme", {}, value)


async def test_intake_accepts_good_requests_and_dead_letters_bad_ones_in_one_call() -> None:
    r = rig()
    good = request("i1").model_dump_json().encode()
    accepted = await intake(r).accept([message(0, good), message(1, b"{not json")])
    assert accepted.created == 1
    (letter,) = r.store.outbox
    assert letter.topic == "dlq" and letter.payload["reason"] == "bad_json"


async def test_request_id_reused_with_other_content_is_dead_lettered_and_the_job_kept() -> None:
    r = rig()
    first = request("c1", text="Your invoice")
    original = r.store.add(first)
    same = request("c1", text="Your invoice", metadata={"retry": 2}).model_dump_json().encode()
    other = request("c1", text="Your receipt").model_dump_json().encode()
    accepted = await intake(r).accept([message(0, same), message(1, other)])
    assert (accepted.created, accepted.duplicates, accepted.conflicts) == (0, 1, 1)
    (letter,) = r.store.outbox
    assert letter.topic == "dlq" and letter.payload["reason"] == "request.conflict"
    new_hash = request("c1", text="Your receipt").content_hash()
    assert first.content_hash() in letter.payload["detail"]
    assert new_hash in letter.payload["detail"]
    assert letter.payload["source_offset"] == 1
    assert list(r.store.jobs) == [original] and r.store.jobs[original].request == first
    sample = r.metrics.dead_lettered.labels("request.conflict")._value.get()
    assert sample == 1


async def test_intake_has_no_room_at_the_backlog_limit_or_while_the_database_is_down() -> None:
    r = rig()
    assert await intake(r, max_backlog=1).has_room()
    r.store.add(request("b1"))
    assert not await intake(r, max_backlog=1).has_room()
    r.outage.down = True
    assert not await intake(r).has_room()
    with pytest.raises(StoreUnavailable):
        await intake(r).accept([message(0, request("b2").model_dump_json().encode())])


async def test_leases_are_renewed_while_jobs_run() -> None:
    r = rig(ScriptedZai(latency=0.3))
    r.store.add(request("r"))
    ex = executor(r, lease=timedelta(seconds=0.09))
    async with running(ex):
        await until(lambda: bool(r.zai.calls))
        first = r.store.by_request("r").lease_until
        await asyncio.sleep(0.1)
        assert r.store.by_request("r").lease_until != first
        await until(lambda: done(r, "r"))
