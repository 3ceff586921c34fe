"""Inputs that once made the admin API answer 5xx or break its OpenAPI document (found with
Schemathesis, see test_schemathesis.py) now get a 4xx problem document; on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.problems import MEDIA_TYPE
from service.config import Settings
from tests.integration.api.conftest import ACME, ADMIN, auth

pytestmark = pytest.mark.postgres
BASE = "/v1/tenants/acme/glossaries"
CSV = b"en,de\ninvoice,Rechnung\n"


@pytest.fixture
def lenient(api_settings: Settings) -> Any:
    """A client that answers a server error as a 500 response instead of raising it."""
    with TestClient(create_app(api_settings), raise_server_exceptions=False) as c:
        yield c


def assert_problem(r: Any, status: int, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    if field is not None:
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{BASE}/a%00b"),
        ("GET", f"{BASE}/a%00b/versions"),
        ("GET", f"{BASE}/a%00b/versions/1/entries"),
        ("GET", f"{BASE}/a%00b/export"),
        ("PATCH", f"{BASE}/a%00b/entries"),
        ("DELETE", f"{BASE}/a%00b"),
        ("GET", "/v1/tenants/acme/jobs/a%00b"),
        ("DELETE", "/v1/tokens/a%00b"),
    ],
)
def test_nul_in_a_path_parameter_is_422_not_500(
    lenient: TestClient, method: str, path: str
) -> None:
    # PostgreSQL rejects NUL in text; it used to reach the query and answer 500.
    r = lenient.request(method, path, headers=auth(ADMIN), json={})
    assert_problem(r, 422)


def test_glossary_ref_outside_the_name_pattern_is_422(lenient: TestClient) -> None:
    assert_problem(lenient.get(f"{BASE}/has%20space", headers=auth(ACME)), 422, "path.glossary")
    assert lenient.get(f"{BASE}/unknown-name", headers=auth(ACME)).status_code == 404


def test_token_ids_that_mint_cannot_make_are_422(lenient: TestClient) -> None:
    assert_problem(lenient.delete("/v1/tokens/" + "x" * 40, headers=auth(ADMIN)), 422)
    assert lenient.delete("/v1/tokens/0123456789abcdef", headers=auth(ADMIN)).status_code == 404


def test_malformed_bearer_token_id_is_401_without_a_lookup(lenient: TestClient) -> None:
    for token in ("zl_" + "a" * 500 + "_secret", "zl_ABCDEF_secret", "zl_a\x01b_secret"):
        r = lenient.get("/v1/tokens", headers=auth(token))
        assert_problem(r, 401)


def test_control_characters_in_a_token_name_are_422(lenient: TestClient) -> None:
    for name in ("a\u0000b", "line\nbreak"):
        r = lenient.post("/v1/tokens", json={"name": name}, headers=auth(ADMIN))
        assert_problem(r, 422, "body.name")


def test_multipart_glossary_name_is_checked_like_a_json_one(lenient: TestClient) -> None:
    # The form field skipped the name pattern: a NUL reached PostgreSQL (500), and any other
    # string became a glossary name that no path could address.
    for name in ("n\x00x", "../etc", "x" * 101):
        r = lenient.post(
            BASE,
            files={"file": ("t.csv", CSV, "text/csv")},
            data={"name": name},
            headers=auth(ACME),
        )
        assert_problem(r, 422, "body.name")


def test_uploaded_file_names_must_be_plain_names(lenient: TestClient) -> None:
    # (The multipart parser itself keeps only the last part of a Windows path.)
    for filename in ("../../etc/passwd.csv", "/abs.csv", "terms/x.csv", ".."):
        r = lenient.post(
            BASE,
            files={"file": (filename, CSV, "text/csv")},
            data={"name": "paths"},
            headers=auth(ACME),
        )
        assert_problem(r, 422, "body.file")
    ok = lenient.post(
        BASE,
        files={"file": ("my terms (v2).csv", CSV, "text/csv")},
        data={"name": "plain"},
        headers=auth(ACME),
    )
    assert ok.status_code == 201, ok.text


def test_json_glossary_body_is_strictly_typed(lenient: TestClient) -> None:
    body = {"name": "g", "source_lang": "en", "is_default": 0, "entries": [{"term": "a"}]}
    assert_problem(lenient.post(BASE, json=body, headers=auth(ACME)), 422)
    body = {"name": "g", "source_lang": "en", "entries": [{"term": "a", "forbidden": "yes"}]}
    assert_problem(lenient.post(BASE, json=body, headers=auth(ACME)), 422)


def test_zai_key_rules_are_the_documented_pattern(lenient: TestClient) -> None:
    path = "/v1/tenants/acme/credentials/zai"
    for key in ("short", "has space 12345", "nul\u0000byte-1234", "ünïcode-12345", "k" * 513):
        r = lenient.put(path, json={"api_key": key}, headers=auth(ACME))
        assert_problem(r, 422, "body.api_key")
    assert lenient.put(path, json={"api_key": "0123abcd.s3cr3t"}, headers=auth(ACME)).is_success


def test_405_lists_every_method_of_the_resource(lenient: TestClient) -> None:
    r = lenient.request("OPTIONS", f"{BASE}/product", headers=auth(ACME))
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, PUT"
    r = lenient.request("PATCH", "/v1/tokens", headers=auth(ADMIN))
    assert r.headers["allow"] == "GET, POST"


def test_invalid_utf8_json_body_is_a_documented_400(lenient: TestClient) -> None:
    r = lenient.post(
        "/v1/tokens",
        content=b'{"name": "\xff"}',
        headers={**auth(ADMIN), "content-type": "application/json"},
    )
    assert_problem(r, 400)


def test_openapi_documents_problem_responses_and_resolves_every_ref(api_settings: Settings) -> None:
    doc = create_app(api_settings).openapi()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    # The glossary JSON body once pointed at `#/$defs/EntryIn`, which is not in the document.
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref
    post = doc["paths"]["/v1/tenants/{tenant}/glossaries"]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    for status in ("400", "401", "404", "409", "413", "415", "422"):
        assert list(post["responses"][status]["content"]) == [MEDIA_TYPE], status


def test_settings_document_the_400_of_an_undecodable_body(lenient: TestClient) -> None:
    # Found by Schemathesis: PUT settings answered 400 for undecodable bytes, undocumented.
    r = lenient.put(
        "/v1/tenants/acme/settings",
        content=b"B2w\xff\x0c\x19+",
        headers={**auth(ADMIN), "Content-Type": "application/json"},
    )
    assert_problem(r, 400)
    operation = lenient.app.openapi()["paths"]["/v1/tenants/{tenant}/settings"]["put"]
    assert "400" in operation["responses"]
