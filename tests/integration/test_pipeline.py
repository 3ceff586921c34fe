"""The translation pipeline end to end, in-process (the `worker` fixture is in conftest.py): real Kafka, real database (both backends),
the simulator over HTTP. Process-level drills (SIGKILL, two workers) are in test_pipeline_drills."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_glossary
from service.pipeline.contract.states import JobState
from service.store import glossaries as repository
from service.store import jobs
from service.store.db import session_factory
from service.worker.app import WorkerService
from tests.support.pipeline import request, roundtrip, seed_glossary
from tests.support.worker import events, publish, read

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]


async def test_text_segments_and_languages(worker: WorkerService, sim: Any) -> None:
    got = await roundtrip(
        worker,
        [
            request("t1", target_langs=["de", "fr", "ja"]),
            request(
                "s1", text=None, segments=[{"id": "a", "text": "One"}, {"id": "b", "text": "Two"}]
            ),
        ],
        4,
    )
    by = {(e["request_id"], e["target_lang"]): e for e in got}
    assert {k for k in by} == {("t1", "de"), ("t1", "fr"), ("t1", "ja"), ("s1", "de")}
    assert by[("t1", "ja")]["text"] == "[ja] Hello"
    assert by[("s1", "de")]["segments"] == [
        {"id": "a", "text": "[de] One"},
        {"id": "b", "text": "[de] Two"},
    ]
    assert all(
        e["type"] == "translation.completed" and e["usage"]["upstream_calls"] >= 1 for e in got
    )


async def test_glossary_is_applied_and_pinned(worker: WorkerService, sim: Any) -> None:
    await seed_glossary(worker)
    (event,) = await roundtrip(
        worker, [request("g1", text="Open the dashboard to download your invoice.")], 1
    )
    assert event["text"] == "[de] Open the Übersicht to herunterladen your Rechnung."
    assert (event["glossary_version"], bool(event["glossary_id"])) == (1, True)
    assert sim.counters()["uploads"] == 1
    # A named glossary that does not exist fails clearly instead of translating without it.
    (missing,) = await roundtrip(worker, [request("g2", glossary="nope")], 1)
    assert missing["type"] == "translation.failed" and missing["error_code"] == "glossary.not_found"


async def test_memory_hit_makes_no_upstream_call(worker: WorkerService, sim: Any) -> None:
    await roundtrip(worker, [request("m1", text="Save changes")], 1)
    calls = sim.counters()["calls"]["agents"]
    (second,) = await roundtrip(worker, [request("m2", text="Save  changes ")], 1)
    assert sim.counters()["calls"]["agents"] == calls
    assert second["text"] == "[de] Save changes" and second["usage"]["memory_hits"] == 1


async def test_async_replies_are_polled_and_ids_persisted(worker: WorkerService, sim: Any) -> None:
    sim.configure(mode="async", async_pending_seconds=0.3)
    (event,) = await roundtrip(worker, [request("a1", text="Polling works")], 1)
    assert event["text"] == "[de] Polling works"
    assert sim.counters()["calls"]["async_result"] >= 1
    async with session_factory(worker.engine)() as s:
        job = await jobs.find(s, "acme", "a1")
        assert job is not None and job.state == JobState.done
        (target,) = await jobs.targets(s, job.id)
    assert len(target.async_ids) == 1  # one upstream call, its async id kept


@pytest.mark.parametrize(
    ("faults", "code", "retryable"),
    [
        (["429_1113"], "zai.quota_exceeded", False),
        (["400_1301"], "zai.content_filtered", False),
        (["sensitive"], "zai.content_filtered", False),
        (["500", "500", "500"], "zai.server_error", True),
        (["429_1302", "429_1302", "429_1302"], "zai.rate_limited", True),
    ],
)
async def test_failure_classes_end_in_failed_events(
    worker: WorkerService, sim: Any, faults: list[str], code: str, retryable: bool
) -> None:
    sim.script("agents", faults)
    (event,) = await roundtrip(worker, [request("f1", text="Boom")], 1)
    assert event["type"] == "translation.failed"
    assert (event["error_code"], event["retryable"]) == (code, retryable)


async def test_retryable_error_recovers_within_budget(worker: WorkerService, sim: Any) -> None:
    sim.script("agents", ["500", "429_1302"])
    (event,) = await roundtrip(worker, [request("r1", text="Eventually")], 1)
    assert event["type"] == "translation.completed"
    assert sim.counters()["calls"]["agents"] == 3


async def test_duplicate_of_done_request_republishes_without_upstream(
    worker: WorkerService, sim: Any
) -> None:
    (first,) = await roundtrip(worker, [request("d1", text="Only once")], 1)
    calls = sim.counters()["calls"]["agents"]
    s = worker.settings
    await publish(s.kafka_bootstrap_servers, s.topic_requests, [request("d1", text="Only once")])
    got = events(await read(s.kafka_bootstrap_servers, s.topic_results, 2))
    assert len(got) == 2 and got[0] == got[1] == first
    assert sim.counters()["calls"]["agents"] == calls


async def test_poison_messages_go_to_dlq_and_good_ones_flow(worker: WorkerService) -> None:
    s = worker.settings
    poison: list[Any] = [
        b"\xff\xfe",
        b"[]",
        json.dumps(request("p1", target_langs=["xx"])).encode(),
        request("ok1"),
        b"{",
    ]
    await publish(s.kafka_bootstrap_servers, s.topic_requests, poison)
    letters = events(await read(s.kafka_bootstrap_servers, s.topic_dlq, 4))
    assert [letter["reason"] for letter in letters] == ["not_utf8", "schema", "schema", "bad_json"]
    assert "target_langs" in letters[2]["detail"]
    (ok,) = events(await read(s.kafka_bootstrap_servers, s.topic_results, 1))
    assert ok["request_id"] == "ok1"


async def test_changed_glossary_takes_effect_and_old_file_is_deleted(
    worker: WorkerService, sim: Any
) -> None:
    await seed_glossary(worker)
    (v1,) = await roundtrip(worker, [request("c1", text="Your invoice")], 1)
    assert v1["text"] == "[de] Your Rechnung"
    changed = parse_glossary(
        b"en,de\ninvoice,Faktura\n",
        filename="x.csv",
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    async with session_factory(worker.engine)() as s:
        await repository.save(s, tenant_id="acme", name="product-terms", doc=changed, author="t")
        await s.commit()
    (v2,) = await roundtrip(worker, [request("c2", text="Your invoice")], 1)
    assert (v2["text"], v2["glossary_version"]) == ("[de] Your Faktura", 2)
    counters = sim.counters()
    assert (counters["uploads"], counters["deletes"], counters["files"]) == (2, 1, 1)


async def test_job_status_api(worker: WorkerService, sim: Any) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from service.api.app import create_app

    sim.script("agents", ["ok", "429_1113"])
    await roundtrip(worker, [request("j1", target_langs=["de", "fr"], text="Status")], 2)
    api_settings = worker.settings.model_copy(
        update={"api_tenant_tokens": {"acme": SecretStr("acme-t"), "globex": SecretStr("globex-t")}}
    )

    def check() -> None:
        with TestClient(create_app(api_settings)) as client:
            r = client.get("/v1/tenants/acme/jobs/j1", headers={"Authorization": "Bearer acme-t"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["state"] == "done"
            states = sorted(t["state"] for t in body["targets"])
            assert states == ["completed", "failed"]
            failed = next(t for t in body["targets"] if t["state"] == "failed")
            assert failed["result"]["error_code"] == "zai.quota_exceeded"
            other = client.get(
                "/v1/tenants/acme/jobs/j1", headers={"Authorization": "Bearer globex-t"}
            )
            assert other.status_code == 404
            assert (
                client.get(
                    "/v1/tenants/acme/jobs/nope", headers={"Authorization": "Bearer acme-t"}
                ).status_code
                == 404
            )

    await asyncio.to_thread(check)


async def test_intake_pauses_when_the_backlog_is_full(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    from sqlmodel import col, func, select

    from service.store.tables import Job
    from tests.support.pipeline import running_worker

    sim.configure(latency_ms=150)
    overrides = {"worker_max_backlog": 3, "worker_batch_size": 1, "worker_max_in_flight": 1}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        s = w.settings
        await publish(
            s.kafka_bootstrap_servers,
            s.topic_requests,
            [request(f"bp{i}", text=f"Item {i}") for i in range(12)],
        )
        peak, seen_all = 0, False
        for _ in range(300):
            async with session_factory(w.engine)() as db:
                open_jobs = (
                    await db.exec(
                        select(func.count()).select_from(Job).where(col(Job.state) != "done")
                    )
                ).one()
                total = (await db.exec(select(func.count()).select_from(Job))).one()
            peak = max(peak, open_jobs)
            if total == 12 and open_jobs == 0:
                seen_all = True
                break
            await asyncio.sleep(0.1)
        assert seen_all, "every request must still be processed"
        # Intake stopped taking messages near the limit (one batch of slack), yet lost nothing.
        assert peak <= 3 + 1, peak
        done = events(await read(s.kafka_bootstrap_servers, s.topic_results, 12))
        assert len({e["request_id"] for e in done}) == 12


async def test_a_job_that_keeps_crashing_fails_after_its_attempts(
    kafka_bootstrap_servers: str, db_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.pipeline.translation.run import LanguageRun
    from tests.support.pipeline import running_worker

    async def crash(self: LanguageRun) -> Any:
        raise RuntimeError("a bug, not an upstream error")

    monkeypatch.setattr(LanguageRun, "run", crash)
    overrides = {"worker_job_lease_seconds": 1.5, "worker_job_max_attempts": 2}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        (event,) = await roundtrip(w, [request("crashy")], 1)
        assert event["type"] == "translation.failed"
        assert event["error_code"] == "internal.attempts_exhausted"
        async with session_factory(w.engine)() as s:
            job = await jobs.find(s, "acme", "crashy")
        assert job is not None and job.state == JobState.done and job.attempts == 3
