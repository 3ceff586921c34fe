"""A tenant's connection over the real app and a real database (SQLite and PostgreSQL): the
service's key, its own key, or a Truto integrated account; shown back without secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.config import Settings
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = pytest.mark.postgres
URL = "/v1/tenants/acme/connection"
KEY = "0123abcd.s3cr3t-value-WXYZ"
TRUTO_TOKEN = "truto-token-s3cr3t"


@pytest.fixture
def truto_client(api_settings: Settings) -> Iterator[TestClient]:
    settings = api_settings.model_copy(update={"truto_api_token": SecretStr(TRUTO_TOKEN)})
    with TestClient(create_app(settings)) as c:
        yield c


def test_default_is_the_services_key(client: TestClient) -> None:
    assert client.get(URL, headers=auth(ACME)).json() == {
        "kind": "service",
        "explicit": False,
        "integrated_account_id": None,
        "zai_key": {"configured": False, "last4": None},
        "updated_at": None,
    }


def test_truto_needs_the_service_token(client: TestClient) -> None:
    body = {"kind": "truto", "integrated_account_id": "ia-1"}
    r = client.put(URL, json=body, headers=auth(ACME))
    assert r.status_code == 422 and "TRUTO_API_TOKEN" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "body.kind"
    assert client.get(URL, headers=auth(ACME)).json()["kind"] == "service"


def test_connect_through_truto_drops_a_stored_key(
    truto_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = truto_client
    assert (
        c.put(URL, json={"kind": "zai_key", "api_key": KEY}, headers=auth(ACME)).status_code == 200
    )
    account = "3f2b9c1e-77aa-4d0e-9b1f-2a6c0d5e8f10"
    r = c.put(URL, json={"kind": "truto", "integrated_account_id": account}, headers=auth(ACME))
    assert r.status_code == 200, r.text
    shown = r.json()
    assert (shown["kind"], shown["explicit"], shown["integrated_account_id"]) == (
        "truto",
        True,
        account,
    )
    assert shown["zai_key"] == {"configured": False, "last4": None}  # no Z.ai key held
    assert c.get(URL, headers=auth(ADMIN)).json() == shown
    assert (
        c.get("/v1/tenants/acme/credentials/zai", headers=auth(ACME)).json()["configured"] is False
    )
    assert c.get(URL, headers=auth(GLOBEX)).status_code == 404  # another tenant's: 404
    assert c.get("/v1/tenants/globex/connection", headers=auth(GLOBEX)).json()["kind"] == "service"
    for secret in ("s3cr3t", TRUTO_TOKEN):
        assert secret not in r.text and secret not in caplog.text


def test_own_key_then_back_to_the_service(client: TestClient) -> None:
    r = client.put(URL, json={"kind": "zai_key", "api_key": KEY}, headers=auth(ACME))
    assert r.status_code == 200 and "s3cr3t" not in r.text
    assert r.json()["kind"] == "zai_key" and r.json()["zai_key"] == {
        "configured": True,
        "last4": "WXYZ",
    }
    again = client.put(URL, json={"kind": "zai_key"}, headers=auth(ACME))  # the stored one
    assert again.status_code == 200 and again.json()["zai_key"]["last4"] == "WXYZ"
    service = client.put(URL, json={"kind": "service"}, headers=auth(ACME)).json()
    assert service["kind"] == "service" and service["zai_key"]["configured"] is False
    r = client.put(URL, json={"kind": "zai_key"}, headers=auth(ACME))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.api_key"


def test_delete_returns_to_the_default(client: TestClient) -> None:
    assert client.delete(URL, headers=auth(ACME)).status_code == 404
    client.put(URL, json={"kind": "zai_key", "api_key": KEY}, headers=auth(ACME))
    assert client.delete(URL, headers=auth(ACME)).status_code == 204
    shown = client.get(URL, headers=auth(ACME)).json()
    assert (shown["kind"], shown["explicit"], shown["zai_key"]["configured"]) == (
        "service",
        False,
        False,
    )


def test_the_credentials_route_is_the_own_key_connection(client: TestClient) -> None:
    client.put("/v1/tenants/acme/credentials/zai", json={"api_key": KEY}, headers=auth(ACME))
    shown = client.get(URL, headers=auth(ACME)).json()
    assert (shown["kind"], shown["explicit"]) == ("zai_key", True)
    assert client.delete("/v1/tenants/acme/credentials/zai", headers=auth(ACME)).status_code == 204
    assert client.get(URL, headers=auth(ACME)).json()["kind"] == "service"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "magic"},
        {},
        {"kind": "truto"},
        {"kind": "truto", "integrated_account_id": ""},
        {"kind": "truto", "integrated_account_id": "has space"},
        {"kind": "truto", "integrated_account_id": "x" * 201},
        {"kind": "truto", "integrated_account_id": "ia-1", "api_key": KEY},
        {"kind": "service", "integrated_account_id": "ia-1"},
        {"kind": "zai_key", "api_key": "short"},
    ],
)
def test_bad_bodies_are_422(truto_client: TestClient, body: dict[str, object]) -> None:
    r = truto_client.put(URL, json=body, headers=auth(ACME))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "s3cr3t" not in r.text


def test_needs_a_token(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
    assert client.put(URL, json={"kind": "service"}).status_code == 401
