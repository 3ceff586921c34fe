"""Auth, tokens and tenant credentials over the real app and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = pytest.mark.postgres
KEY = "0123abcd.s3cr3t-value-WXYZ"


def test_missing_or_bad_token_is_401_problem(client: TestClient) -> None:
    for headers in ({}, auth("nope"), auth("zl_abc_def"), {"Authorization": "Basic x"}):
        r = client.get("/v1/tenants/acme/credentials/zai", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["status"] == 401


def test_admin_mints_a_tenant_token_that_sees_only_its_tenant(client: TestClient) -> None:
    r = client.post("/v1/tokens", json={"name": "ci", "tenant_id": "acme"}, headers=auth(ADMIN))
    assert r.status_code == 201, r.text
    minted = r.json()
    token = minted["token"]
    assert client.get("/v1/tenants/acme/credentials/zai", headers=auth(token)).status_code == 200
    assert client.get("/v1/tenants/globex/credentials/zai", headers=auth(token)).status_code == 404
    listed = client.get("/v1/tokens", headers=auth(ADMIN)).json()
    assert [t["id"] for t in listed] == [minted["id"]]
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    # Revoked tokens stop working at once.
    assert client.delete(f"/v1/tokens/{minted['id']}", headers=auth(ADMIN)).status_code == 204
    assert client.get("/v1/tenants/acme/credentials/zai", headers=auth(token)).status_code == 401
    assert client.delete(f"/v1/tokens/{minted['id']}", headers=auth(ADMIN)).status_code == 404


def test_tenant_tokens_cannot_manage_tokens(client: TestClient) -> None:
    r = client.post("/v1/tokens", json={"name": "x"}, headers=auth(ACME))
    assert r.status_code == 403
    assert client.get("/v1/tokens", headers=auth(ACME)).status_code == 403


def test_token_validation_errors_name_the_field(client: TestClient) -> None:
    r = client.post("/v1/tokens", json={"name": "", "tenant_id": "bad/tenant"}, headers=auth(ADMIN))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"body.name", "body.tenant_id"}


def test_zai_key_is_write_only(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.get("/v1/tenants/acme/credentials/zai", headers=auth(ACME)).json() == {
        "provider": "zai",
        "configured": False,
        "last4": None,
        "updated_at": None,
    }
    r = client.put("/v1/tenants/acme/credentials/zai", json={"api_key": KEY}, headers=auth(ACME))
    assert r.status_code == 200, r.text
    assert r.json()["configured"] is True and r.json()["last4"] == "WXYZ"
    got = client.get("/v1/tenants/acme/credentials/zai", headers=auth(ADMIN))
    for response in (r, got):
        assert "s3cr3t" not in response.text
    assert "s3cr3t" not in caplog.text
    # Another tenant sees nothing of it.
    assert client.get("/v1/tenants/acme/credentials/zai", headers=auth(GLOBEX)).status_code == 404
    assert (
        client.get("/v1/tenants/globex/credentials/zai", headers=auth(GLOBEX)).json()["configured"]
        is False
    )
    assert client.delete("/v1/tenants/acme/credentials/zai", headers=auth(ACME)).status_code == 204
    assert client.delete("/v1/tenants/acme/credentials/zai", headers=auth(ACME)).status_code == 404


def test_malformed_key_and_path_are_422(client: TestClient) -> None:
    r = client.put("/v1/tenants/acme/credentials/zai", json={"api_key": "a b"}, headers=auth(ACME))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.api_key"
    r = client.put("/v1/tenants/acme/credentials/zai", json={}, headers=auth(ACME))
    assert r.status_code == 422
    r = client.get("/v1/tenants/-bad/credentials/zai", headers=auth(ADMIN))
    assert r.status_code == 422


def test_tenant_settings(client: TestClient) -> None:
    url = "/v1/tenants/acme/settings"
    assert client.get(url, headers=auth(ACME)).json() == {
        "qa_glossary_policy": None,
        "updated_at": None,
    }
    r = client.put(url, json={"qa_glossary_policy": "fail"}, headers=auth(ACME))
    assert r.status_code == 200 and r.json()["qa_glossary_policy"] == "fail"
    assert client.get(url, headers=auth(ADMIN)).json()["qa_glossary_policy"] == "fail"
    assert client.get(url, headers=auth(GLOBEX)).status_code == 404
    assert (
        client.put(url, json={"qa_glossary_policy": "sometimes"}, headers=auth(ACME)).status_code
        == 422
    )
    assert client.put(url, json={"other": 1}, headers=auth(ACME)).status_code == 422
    assert client.get(url).status_code == 401
