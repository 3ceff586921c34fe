"""Who may speak for a tenant, end to end: a tenant that requires signed requests, the real
broker, an in-process worker on SQLite and PostgreSQL, the simulator over HTTP, and
`zai-l10n translate` in its own process. Unsigned and tampered requests reach the DLQ as
`request.unauthenticated` without a job or an upstream call; a signed one completes."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sqlmodel import select

from service.auth.credentials import CredentialCipher, new_key
from service.pipeline.contract.signature import HEADER, sign
from service.store import signing
from service.store.db import session_factory
from service.store.tables import Job
from service.worker.app import WorkerService
from tests.integration.test_cli_translate import cli
from tests.support.pipeline import request, results, running_worker
from tests.support.worker import events, read

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]
SECRET = "a-signing-secret-of-forty-characters-xyz"


async def require_signatures(w: WorkerService, secret: str) -> None:
    cipher = CredentialCipher(w.settings.credentials_key)
    async with session_factory(w.engine)() as s:
        await signing.rotate(s, cipher, "acme", SecretStr(secret), grace=timedelta(0))


async def send(w: WorkerService, value: bytes, headers: dict[str, str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=w.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        encoded = [(k, v.encode()) for k, v in headers.items()]
        await producer.send_and_wait(w.settings.topic_requests, value, key=b"acme", headers=encoded)
    finally:
        await producer.stop()


async def dead_letters(w: WorkerService, count: int) -> list[dict[str, Any]]:
    s = w.settings
    return events(await read(s.kafka_bootstrap_servers, s.topic_dlq, count, wait_s=60))


async def test_unsigned_and_tampered_requests_are_refused_and_cost_nothing(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    overrides = {"credentials_key": SecretStr(new_key()), "request_signing_cache_seconds": 0}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        await require_signatures(w, SECRET)
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}
        # Unsigned, from the command line: the worker dead-letters it, the command says why.
        unsigned = await cli(
            w,
            "translate",
            "--text",
            "Unsigned",
            "--tenant",
            "acme",
            "--to",
            "de",
            "--timeout",
            "60",
            **env,
        )
        assert unsigned.code == 1 and "request.unauthenticated" in unsigned.out, unsigned.out
        # Signed with the secret, then changed on the way: the signature no longer matches.
        body = json.dumps(request("tampered", text="Pay 10 EUR")).encode()
        header = sign(SECRET, body, int(time.time()))
        await send(w, body.replace(b"10 EUR", b"99 EUR"), {HEADER: header})
        # Signed with another secret.
        other = json.dumps(request("forged", text="Forged")).encode()
        await send(w, other, {HEADER: sign("not-the-tenants-secret-" * 2, other, int(time.time()))})
        # Signed by `zai-l10n translate --signing-secret`: translated.
        signed = await cli(
            w,
            "translate",
            "--text",
            "Your invoice",
            "--tenant",
            "acme",
            "--to",
            "de",
            "--timeout",
            "60",
            **env,
            ZAI_L10N_SIGNING_SECRET=SECRET,
        )
        assert signed.code == 0, signed.out
        letters = await dead_letters(w, 3)
        async with session_factory(w.engine)() as s:
            jobs = list((await s.exec(select(Job))).all())
    assert [letter["reason"] for letter in letters] == ["request.unauthenticated"] * 3
    refused = [json.loads(base64.b64decode(d["original_value_b64"]))["request_id"] for d in letters]
    assert refused[1:] == ["tampered", "forged"]
    assert "no zai-l10n-signature header" in letters[0]["detail"]
    assert all("does not match" in d["detail"] for d in letters[1:])
    assert all(SECRET not in json.dumps(d) for d in letters)
    # Only the signed request became a job, and it made the only agent call.
    assert [j.request["text"] for j in jobs] == ["Your invoice"]
    assert sim.counters()["calls"].get("agents", 0) == 1


async def test_a_signed_request_completes_and_a_rotation_keeps_the_old_secret_for_its_grace(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> None:
    overrides = {"credentials_key": SecretStr(new_key()), "request_signing_cache_seconds": 0}
    async for w in running_worker(kafka_bootstrap_servers, db_url, sim, **overrides):
        await require_signatures(w, SECRET)
        new = "the-next-signing-secret-after-rotation-0"
        cipher = CredentialCipher(w.settings.credentials_key)
        async with session_factory(w.engine)() as s:
            await signing.rotate(s, cipher, "acme", SecretStr(new), grace=timedelta(minutes=5))
        for rid, secret in (("with-old", SECRET), ("with-new", new)):
            body = json.dumps(request(rid, text=f"Invoice {rid}")).encode()
            await send(w, body, {HEADER: sign(secret, body, int(time.time()))})
        got = await results(w, {"with-old", "with-new"}, 2)
    assert {e["type"] for e in got} == {"translation.completed"}
