"""How the pipeline fails, end to end (real Kafka, both databases, the simulator over HTTP):
a language whose call fails for good stops spending upstream calls without touching the other
languages, and a misconfigured job fails at once, on its first attempt, with its own code and
no upstream call."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from service.glossary.limits import GlossaryLimits
from service.glossary.parse import parse_glossary
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent
from service.pipeline.contract.states import JobState
from service.pipeline.ports import Arrival
from service.store import glossaries as repository
from service.store import jobs
from service.store.db import session_factory
from service.store.driver import open_database
from service.store.tables import GlossaryEntry, GlossaryVersion, TenantCredential
from service.worker.app import WorkerService
from tests.fixtures.databases import job_store
from tests.support.pipeline import request, results, roundtrip, running_worker, seed_glossary

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

CONCURRENCY = 4


async def attempts_of(w: WorkerService, request_id: str) -> int:
    """How often the job was claimed; it must also be done."""
    async with session_factory(w.engine)() as s:
        job = await jobs.find(s, "acme", request_id)
    assert job is not None and job.state == JobState.done
    return job.attempts


async def test_a_failed_language_cancels_its_calls_but_not_other_languages(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    # Slow replies keep CONCURRENCY calls per language in flight when the first one fails.
    sim.configure(latency_ms=300)
    sim.script("agents", ["400_1301"])  # the first call to arrive, then every call is fine
    segments = [{"id": f"s{i}", "text": f"Segment number {i}"} for i in range(24)]
    overrides = {"translation_packing": False, "translation_call_concurrency": CONCURRENCY}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        msg = request("fan", text=None, segments=segments, target_langs=["de", "fr"])
        got = await roundtrip(w, [msg], 2)
        assert await attempts_of(w, "fan") == 1
    # Which language drew the fault depends on which call arrived first; the rest does not.
    (failed,) = [e for e in got if e["type"] == "translation.failed"]
    (completed,) = [e for e in got if e["type"] == "translation.completed"]
    assert (failed["error_code"], failed["retryable"]) == ("zai.content_filtered", False)
    by_target = sim.agent_calls_by_target()
    # Only the calls already in flight were sent; no waiting segment started after the failure
    # (gathering every call, as the old code did, sent all 24).
    assert 1 <= by_target[failed["target_lang"]] <= CONCURRENCY, by_target
    # The other language was not cancelled: every segment translated, one call each.
    lang = completed["target_lang"]
    assert by_target[lang] == len(segments), by_target
    assert [s["text"] for s in completed["segments"]] == [
        f"[{lang}] Segment number {i}" for i in range(24)
    ]
    assert sim.counters()["calls"]["agents"] == sum(by_target.values())


OTHER_KEY = Fernet.generate_key().decode()  # encrypted the stored key; the worker lacks it
WORKER_KEY = Fernet.generate_key().decode()
TENANT_SECRET = "tenant-own.zai-key-4242"


@pytest.mark.parametrize(
    ("ciphertext", "worker_key"),
    [
        (Fernet(OTHER_KEY.encode()).encrypt(TENANT_SECRET.encode()).decode(), WORKER_KEY),
        ("gAAAAA-not-a-fernet-token", WORKER_KEY),
        # A stored key and no CREDENTIALS_KEY at all: just as unusable.
        (Fernet(OTHER_KEY.encode()).encrypt(TENANT_SECRET.encode()).decode(), None),
    ],
    ids=["other-key", "garbage", "no-worker-key"],
)
async def test_corrupt_tenant_credential_fails_at_once(
    kafka_bootstrap_servers: str,
    db_url: str,
    sim: Any,
    ciphertext: str,
    worker_key: str | None,
) -> None:
    overrides = {"credentials_key": worker_key} if worker_key else {}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        async with session_factory(w.engine)() as s:
            s.add(
                TenantCredential(
                    tenant_id="acme", provider="zai", ciphertext=ciphertext, last4="4242"
                )
            )
            await s.commit()
        got = await roundtrip(w, [request("cred", target_langs=["de", "fr"])], 2)
        assert await attempts_of(w, "cred") == 1
    for event in got:
        assert event["type"] == "translation.failed"
        assert (event["error_code"], event["retryable"]) == ("tenant.credential_invalid", False)
        # Neither the tenant's key nor any encryption key nor the stored token is disclosed.
        text = repr(event)
        for secret in (TENANT_SECRET, OTHER_KEY, WORKER_KEY, ciphertext):
            assert secret not in text
    assert sim.counters()["calls"]["agents"] == 0


async def test_missing_pinned_glossary_version_fails_at_once(
    kafka_bootstrap_servers: str, db_url: str, engine: AsyncEngine, sim: Any
) -> None:
    # Before any worker runs: a job accepted the normal way pins version 1; then a version 2
    # is published and version 1 is removed, so the pin points at nothing when it is claimed.
    await seed_glossary(engine)
    req = TranslationRequestV1.model_validate(
        request("pin", glossary="product-terms", target_langs=["de", "fr"])
    )
    db = open_database(db_url)
    store = job_store(db)
    accepted = await store.accept([Arrival(req, "requests", 0, 0, _no_conflict)], [], "results")
    assert accepted.created == 1
    changed = parse_glossary(
        b"en,de\ninvoice,Faktura\n",
        filename="v2.csv",
        content_type=None,
        source_lang=None,
        target_lang=None,
        limits=GlossaryLimits(),
    )
    async with session_factory(engine)() as s:
        job = await jobs.find(s, "acme", "pin")
        assert job is not None and job.glossary_version == 1 and job.glossary_id is not None
        saved = await repository.save(
            s, tenant_id="acme", name="product-terms", doc=changed, author="t"
        )
        assert saved.version.version == 2
        v1 = await repository.version(s, job.glossary_id, 1)
        assert v1 is not None
        await s.exec(delete(GlossaryEntry).where(col(GlossaryEntry.version_id) == v1.id))
        await s.exec(delete(GlossaryVersion).where(col(GlossaryVersion.id) == v1.id))
        await s.commit()
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim):
        got = await results(w, {"pin"}, 2)
        assert await attempts_of(w, "pin") == 1
    for event in got:
        assert event["type"] == "translation.failed"
        assert (event["error_code"], event["retryable"]) == ("glossary.version_missing", False)
    # Neither translated without the glossary nor with the newer version: nothing was sent.
    counters = sim.counters()
    assert (counters["calls"]["agents"], counters["uploads"]) == (0, 0)


async def test_unsupported_pair_fails_only_its_language(worker: WorkerService, sim: Any) -> None:
    got = await roundtrip(worker, [request("pair", source_lang="en", target_langs=["en", "de"])], 2)
    by_lang = {e["target_lang"]: e for e in got}
    same = by_lang["en"]
    assert same["type"] == "translation.failed"
    assert (same["error_code"], same["retryable"]) == ("request.unsupported_pair", False)
    assert by_lang["de"]["type"] == "translation.completed"
    assert by_lang["de"]["text"] == "[de] Hello"
    assert await attempts_of(worker, "pair") == 1
    assert sim.agent_calls_by_target() == {"de": 1}  # nothing was sent for en


def _no_conflict(stored: str) -> OutboundEvent:
    raise AssertionError(f"a conflict with {stored} in a fresh database")
