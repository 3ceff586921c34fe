"""A tenant's signing secret through the admin API, on both databases: admin-only writes, a
write-only secret (never in a response or a log line), encrypted at rest, rotation with a
grace period, and what the intake's port then reads."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.auth.credentials import CredentialCipher
from service.config import Settings
from service.store.db import create_engine, session_factory
from service.store.signing import SqlSigningSecrets
from service.store.tables import TenantSigningSecret
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
URL = "/v1/tenants/acme/signing-secret"
FIRST = "first-signing-secret-0123456789abcdef"
SECOND = "second-signing-secret-0123456789abcdef"


async def stored(settings: Settings) -> tuple[TenantSigningSecret | None, dict[str, object]]:
    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as s:
            row = await s.get(TenantSigningSecret, "acme")
        keys = await SqlSigningSecrets(
            sessions, CredentialCipher(settings.credentials_key)
        ).signing_keys(["acme", "globex"])
        return row, dict(keys)
    finally:
        await engine.dispose()


def test_the_secret_is_set_by_an_admin_write_only_and_rotated_with_a_grace(
    client: TestClient, api_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.get(URL, headers=auth(ACME)).json()["required"] is False
    refused = client.put(URL, json={"secret": FIRST}, headers=auth(ACME))
    assert refused.status_code == 403  # a tenant token may not mint its own proof
    assert client.get(URL, headers=auth(GLOBEX)).status_code == 404  # another tenant's
    r = client.put(URL, json={"secret": FIRST}, headers=auth(ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["required"] is True and r.json()["previous_valid_until"] is None
    r = client.put(URL, json={"secret": SECOND, "grace_seconds": 3600}, headers=auth(ADMIN))
    assert r.status_code == 200 and r.json()["previous_valid_until"] is not None
    status = client.get(URL, headers=auth(ACME))
    assert status.json()["required"] is True
    for text in (r.text, status.text, caplog.text):
        assert FIRST not in text and SECOND not in text

    row, keys = asyncio.run(stored(api_settings))
    assert row is not None and FIRST not in row.ciphertext + (row.previous_ciphertext or "")
    assert list(keys) == ["acme"]  # globex requires nothing
    assert keys["acme"].secrets == (SECOND,) and keys["acme"].previous == FIRST  # type: ignore[attr-defined]

    assert client.delete(URL, headers=auth(ACME)).status_code == 403
    assert client.delete(URL, headers=auth(ADMIN)).status_code == 204
    assert client.delete(URL, headers=auth(ADMIN)).status_code == 404
    assert client.get(URL, headers=auth(ACME)).json()["required"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "too-short"},
        {"secret": "has spaces in it and is long enough to pass"},
        {"secret": FIRST, "grace_seconds": -1},
        {"secret": FIRST, "grace_seconds": 8 * 24 * 3600},
        {"secret": FIRST, "extra": 1},
    ],
)
def test_a_bad_secret_or_grace_is_422_naming_the_field(client: TestClient, body: object) -> None:
    r = client.put(URL, json=body, headers=auth(ADMIN))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert FIRST not in r.text


def test_without_credentials_key_the_secret_cannot_be_stored(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"credentials_key": None})
    with TestClient(create_app(settings)) as c:
        r = c.put(URL, json={"secret": FIRST}, headers=auth(ADMIN))
    assert r.status_code == 503 and "CREDENTIALS_KEY" in r.text


def test_a_secret_that_cannot_be_decrypted_is_read_as_refusing_everything(
    client: TestClient, api_settings: Settings
) -> None:
    assert client.put(URL, json={"secret": FIRST}, headers=auth(ADMIN)).status_code == 200
    other = api_settings.model_copy(
        update={"credentials_key": SecretStr("dGhpcyBpcyBhIHRlc3Qga2V5IG9mIDMyIGJ5dGVzISE=")}
    )
    _, keys = asyncio.run(stored(other))
    assert keys["acme"].secrets == ()  # type: ignore[attr-defined]
