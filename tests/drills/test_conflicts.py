"""Conflicting duplicates, end to end: request ids sent again, some with the same content (a
new `metadata` included), some with other content, both while the originals are in flight and
after they finished.

The same content is a duplicate: no upstream call, and once finished the stored events again
(same `ce_id`, same body). Other content is dead-lettered as `request.conflict` with both
content hashes, and the original job and its results are untouched. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from service.pipeline.contract.messages import TranslationRequestV1
from service.store.db import session_factory
from service.store.tables import Job
from tests.drills.outcomes import Expected, run_id, settle, tally
from tests.drills.scale import pick, record
from tests.support.pipeline import running_worker
from tests.support.results import TopicCollector
from tests.support.worker import publish

pytestmark = [pytest.mark.drill, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

N = pick(short=30, long=300)


def original(run: str, i: int) -> dict[str, Any]:
    return {
        "request_id": f"{run}-{i}",
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de", "fr"],
        "text": f"Conflict drill line {i} of {run}",
        "metadata": {"try": 1},
    }


def same(body: dict[str, Any]) -> dict[str, Any]:
    """The same request as far as content goes: languages reordered, other metadata."""
    return {**body, "target_langs": body["target_langs"][::-1], "metadata": {"try": 2}}


def other(body: dict[str, Any], i: int) -> dict[str, Any]:
    return {**body, "text": f"{body['text']}, edited ({i})"}


def digest(body: dict[str, Any]) -> str:
    return TranslationRequestV1.model_validate(body).content_hash()


async def test_reused_request_ids_with_other_content_are_conflicts_not_duplicates(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    sim.configure(latency_ms=200)
    run = run_id()
    originals = [original(run, i) for i in range(N)]
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim):
        s, bootstrap = w.settings, kafka_bootstrap_servers
        async with (
            TopicCollector(bootstrap, s.topic_results) as results,
            TopicCollector(bootstrap, s.topic_dlq) as dlq,
        ):
            expected = Expected()
            # Phase 1, in flight: each original followed at once by a copy and an edit of it.
            wave: list[bytes] = []
            for body in originals:
                expected.request(body)
                edited = json.dumps(other(body, 1)).encode()
                expected.letter(edited, "request.conflict")
                expected.copy()
                wave += [json.dumps(body).encode(), json.dumps(same(body)).encode(), edited]
            await publish(bootstrap, s.topic_requests, list(wave))
            await settle(expected, results, dlq, within=pick(short=90, long=300))
            first = {r.ce_id: r.event for r in results.received}
            calls = sim.counters()["calls"]["agents"]

            # Phase 2, finished: again a copy and another edit of each.
            again: list[bytes] = []
            for body in originals:
                edited = json.dumps(other(body, 2)).encode()
                expected.letter(edited, "request.conflict")
                expected.copy()
                again += [json.dumps(same(body)).encode(), edited]
            await publish(bootstrap, s.topic_requests, list(again))
            await settle(expected, results, dlq, within=pick(short=60, long=300))
            await until(lambda: len(results.received) >= 4 * N)
            await asyncio.sleep(1.0)  # room for anything sent more than once
            got = tally(expected, results, dlq)
        async with session_factory(w.engine)() as session:
            jobs = {j.request_id: j for j in (await session.exec(select(Job))).all()}

    assert got.lost == 0 and got.strays == 0 and got.wrong_reason == [], got
    assert got.completed == 2 * N and not got.failed
    assert got.dead_lettered == {"request.conflict": 2 * N}
    # In flight, a copy is a duplicate with nothing to send; once finished, each copy gets the
    # stored events again: the same ce_ids and bodies, with the first message's metadata.
    assert got.duplicates == 2 * N and len(results.received) == 4 * N
    for r in results.received:
        assert r.event == first[r.ce_id] and r.event["metadata"] == {"try": 1}
    assert calls == sim.counters()["calls"]["agents"] == 2 * N  # one per language, ever
    by_id = {b["request_id"]: b for b in originals}
    for job in jobs.values():
        body = by_id[job.request_id]
        assert (job.state, job.request["text"]) == ("done", body["text"])
        assert job.request_hash == digest(body)
    for letter in (r.event for r in dlq.received):
        edit = json.loads(base64.b64decode(letter["original_value_b64"]))
        stored, sent = digest(by_id[edit["request_id"]]), digest(edit)
        assert f"stored sha256 {stored}, this message sha256 {sent}" in letter["detail"]
    database = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    record(f"conflicts-{database}", got.figures() | {"upstream_calls": calls})


async def until(predicate: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)
