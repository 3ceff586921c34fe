"""End to end on real Kafka, a real database and both simulators over HTTP: a tenant whose Z.ai
account is linked through Truto gets its glossary uploaded and its requests translated through
the proxy, and no Z.ai key ever leaves the service; each Truto fault ends as it should; a
reconnect heals the account with no restart."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.bootstrap import SIMULATOR_KEY
from service.sim.state import key_hash
from service.sim.testing import SimulatorHandle, TrutoSimHandle
from service.store.db import session_factory
from service.store.tables import ConnectionKind, TenantConnection
from service.worker.app import WorkerService
from tests.drills.scale import pick
from tests.support.pipeline import request, results, roundtrip, running_worker, seed_glossary
from tests.support.worker import publish

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

TOKEN = "truto-token-of-the-platform"
ZAI_KEY = "acme-own-zai.key-held-by-truto-only"
ACCOUNT = "5b0c7a52-3f0e-4f4e-a8a1-2f1d9c0b7e11"
ADMIN = "admin-e2e-token"


def req(rid: str, **fields: Any) -> dict[str, Any]:
    """A request whose text is its own, so translation memory never answers it."""
    return request(rid, **{"text": f"Hello from {rid}", **fields})


def truto_settings(truto: TrutoSimHandle) -> dict[str, Any]:
    return {"truto_api_token": SecretStr(TOKEN), "truto_base_url": truto.base_url}


async def connect_through_truto(w: WorkerService, account: str = ACCOUNT) -> None:
    async with session_factory(w.engine)() as s:
        s.add(
            TenantConnection(
                tenant_id="acme", kind=ConnectionKind.truto.value, integrated_account_id=account
            )
        )
        await s.commit()


def assert_no_zai_key_left_the_service(truto: TrutoSimHandle, sim: SimulatorHandle) -> None:
    counters = truto.counters()
    assert counters["zai_keys_seen"] == 0  # nothing the service sent carried a Z.ai key
    assert set(counters["tokens"]) == {key_hash(TOKEN)}  # only the platform's Truto token
    assert counters["without_idempotency_key"] == 0
    # Z.ai saw only the key Truto injected: the service made no direct call at all.
    assert set(sim.counters()["by_key"]) <= {key_hash(ZAI_KEY)}
    assert key_hash(SIMULATOR_KEY) not in sim.counters()["by_key"]


async def test_glossary_and_translations_through_truto(
    kafka_bootstrap_servers: str, db_url: str, sim: SimulatorHandle, truto: TrutoSimHandle
) -> None:
    truto.add_account(ACCOUNT, ZAI_KEY)
    overrides = truto_settings(truto)
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        await seed_glossary(w)
        # The tenant is connected the way an operator does it: through the admin API.
        api = w.settings.model_copy(update={"api_admin_token": SecretStr(ADMIN)})
        with TestClient(create_app(api)) as admin:
            body = {"kind": "truto", "integrated_account_id": ACCOUNT}
            headers = {"Authorization": f"Bearer {ADMIN}"}
            r = await asyncio.to_thread(
                admin.put, "/v1/tenants/acme/connection", json=body, headers=headers
            )
            assert r.status_code == 200, r.text
        messages = [
            request(f"t{i}", text=f"Your invoice number {i}", target_langs=["de", "fr"])
            for i in range(3)
        ]
        got = await roundtrip(w, messages, 6)
    assert all(e["type"] == "translation.completed" for e in got), got
    by_lang = {(e["request_id"], e["target_lang"]): e["text"] for e in got}
    assert by_lang[("t0", "de")] == "[de] Your Rechnung number 0"
    assert by_lang[("t2", "fr")] == "[fr] Your facture number 2"
    counters = truto.counters()
    assert counters["forwarded"]["paas_files"] == 2  # one glossary file per language pair
    assert counters["forwarded"]["agents"] == 6
    assert counters["tools_calls"] == 1  # the account's resources, read once
    uploads = [r for r in truto.requests() if r["path"] == "/proxy/paas_files"]
    assert all(u["query"]["truto_body_passthrough"] == "true" for u in uploads)
    assert {f["key"] for f in sim.files()} == {key_hash(ZAI_KEY)}  # the account's own files
    assert sim.counters()["glossary_applied"] == 6
    assert_no_zai_key_left_the_service(truto, sim)


async def test_truto_faults_end_as_they_should_and_a_reconnect_heals(
    kafka_bootstrap_servers: str, pg_url: str, sim: SimulatorHandle, truto: TrutoSimHandle
) -> None:
    truto.add_account(ACCOUNT, ZAI_KEY)
    overrides = {**truto_settings(truto), "zai_max_retries": 3}
    async for w in running_worker(kafka_bootstrap_servers, pg_url, sim, **overrides):
        await connect_through_truto(w)

        # A remote 401: the account needs a reconnect; both languages fail at once, unretried.
        truto.script(["remote_401"])
        got = await roundtrip(w, [req("auth", target_langs=["de", "fr"])], 2)
        assert {(e["error_code"], e["retryable"]) for e in got} == {
            ("upstream.reconnect_required", False)
        }
        assert truto.counters()["proxy_calls"]["agents"] == 2  # one call per language
        assert sim.counters()["translations"] == 0
        truto.reconnect(ACCOUNT)  # the end user reconnected: no restart of the worker
        (healed,) = await roundtrip(w, [req("after-reconnect")], 1)
        assert healed["type"] == "translation.completed"

        # Blocked: fail fast, one call.
        truto.script(["blocked"])
        (blocked,) = await roundtrip(w, [req("blocked")], 1)
        assert (blocked["error_code"], blocked["retryable"]) == ("upstream.account_blocked", False)
        assert truto.counters()["proxy_calls"]["agents"] == 4
        truto.add_account(ACCOUNT, ZAI_KEY, blocked=False)

        # 502 and 504 are retried: three calls, one translation event.
        truto.script(["502", "504"])
        (retried,) = await roundtrip(w, [req("gateway")], 1)
        assert retried["type"] == "translation.completed"
        assert retried["usage"]["upstream_calls"] == 3
        assert truto.counters()["proxy_calls"]["agents"] == 7

        # A sandbox account cannot write: every Z.ai call is a POST.
        truto.add_account(ACCOUNT, ZAI_KEY, sandbox=True)
        (sandbox,) = await roundtrip(w, [req("sandbox")], 1)
        assert (sandbox["error_code"], sandbox["retryable"]) == ("zai.permission_denied", False)
        assert "sandbox" in sandbox["message"]
    assert_no_zai_key_left_the_service(truto, sim)


async def test_a_truto_tenant_without_a_token_fails_at_once(
    kafka_bootstrap_servers: str, pg_url: str, sim: SimulatorHandle, truto: TrutoSimHandle
) -> None:
    async for w in running_worker(kafka_bootstrap_servers, pg_url, sim):
        await connect_through_truto(w)
        got = await roundtrip(w, [req("no-token", target_langs=["de", "fr"])], 2)
    assert {(e["error_code"], e["retryable"]) for e in got} == {
        ("tenant.truto_not_configured", False)
    }
    assert truto.counters()["proxy_calls"] == {} and sim.counters()["calls"]["agents"] == 0


BURST = 300
# Truto's window is 10 s (Retry-After 10); the default run paces the same 300 calls through
# 2.5 s windows (the simulator's and the worker's alike), `DRILL_SCALE=long` through Truto's own.
WINDOW_S, RETRY_AFTER_S = pick(short=(2.5, 3), long=(10.0, 10))


async def test_a_burst_for_one_account_stays_within_truto_limits(
    kafka_bootstrap_servers: str, pg_url: str, sim: SimulatorHandle, truto: TrutoSimHandle
) -> None:
    """300 requests for one account at Truto's 50 per window: all complete, and Truto answers
    the service 429 at most once per Retry-After window (the budget paces the calls). Six
    windows at least: about 15 s with 2.5 s windows, 60 s with Truto's 10 s."""
    truto.add_account(ACCOUNT, ZAI_KEY)
    config = truto.configure(window_seconds=WINDOW_S, retry_after=RETRY_AFTER_S)
    retry_after = config["retry_after"]
    assert config["account_limit"] == 50
    settings = truto_settings(truto) | {"truto_rate_period": WINDOW_S}
    async for w in running_worker(kafka_bootstrap_servers, pg_url, sim, **settings):
        await connect_through_truto(w)
        messages = [request(f"b{i}", text=f"Burst line {i}") for i in range(BURST)]
        got = await roundtrip_burst(w, messages)
    assert len(got) == BURST and all(e["type"] == "translation.completed" for e in got)
    counters = truto.counters()
    assert counters["forwarded"]["agents"] == BURST
    limited = counters["rate_limited_at"].get(f"account:{ACCOUNT}", [])
    print(f"\nburst of {BURST}: {len(limited)} 429s from Truto, at {limited}")
    gaps = [b - a for a, b in pairwise(limited)]
    assert all(gap >= retry_after - 0.5 for gap in gaps), limited
    assert "token" not in counters["rate_limited"]
    assert_no_zai_key_left_the_service(truto, sim)


async def roundtrip_burst(w: WorkerService, messages: list[dict[str, Any]]) -> list[Any]:
    s = w.settings
    await publish(s.kafka_bootstrap_servers, s.topic_requests, list(messages))
    return await results(w, {m["request_id"] for m in messages}, len(messages), within=200)
