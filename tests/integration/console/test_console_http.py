"""The console over HTTP (the real app, both databases, a real broker): sessions, CSRF, tenant
isolation and what never leaks. The browser tests (tests/browser) drive the pages themselves."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.app import create_app
from service.api.console import ROUTERS
from service.config import Settings
from tests.integration.api.conftest import ACME, ADMIN, GLOBEX, auth

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[3]
PRODUCT_CSV = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()


@pytest.fixture
def console(api_settings: Settings) -> Iterator[TestClient]:
    # https: the session cookie is Secure, so an http client would (rightly) never send it.
    with TestClient(create_app(api_settings), base_url="https://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def sign_in(c: TestClient, token: str) -> str:
    """Sign in through the form; returns the CSRF value of the signed-in pages."""
    form = c.get("/console/sign-in")
    r = c.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "token": token, "next": "/console"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(c.get("/console/tenants").text)


def upload(c: TestClient, csrf: str, name: str, content: bytes = PRODUCT_CSV) -> object:
    return c.post(
        "/console/t/acme/glossaries",
        data={"csrf": csrf, "name": name},
        files={"file": ("terms.csv", content, "text/csv")},
        follow_redirects=False,
    )


def console_routes(console: TestClient) -> list[APIRoute]:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 20
    return routes


def concrete(path: str) -> str:
    return (
        path.replace("{tenant}", "acme")
        .replace("{glossary}", "product")
        .replace("{request_id}", "r-1")
    )


def test_session_cookie_is_httponly_strict_secure_and_the_token_never_in_a_url(
    console: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    form = console.get("/console/sign-in")
    r = console.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "token": ACME, "next": "/console"},
        follow_redirects=False,
    )
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "zl_console=" in v)
    for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/console"):
        assert attribute in cookie
    assert ACME not in r.headers["location"]
    page = console.get(r.headers["location"])  # follows to the tenant's glossaries
    assert page.status_code == 200 and "Glossaries of acme" in page.text
    assert ACME not in page.text and ACME not in str(page.url)
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert not [rec for rec in caplog.records if ACME in rec.getMessage()]


def test_wrong_token_stays_on_the_form_with_401(console: TestClient) -> None:
    form = console.get("/console/sign-in")
    r = console.post("/console/sign-in", data={"csrf": csrf_of(form.text), "token": "nope"})
    assert r.status_code == 401 and "not valid" in r.text
    assert "zl_console=" not in r.headers.get("set-cookie", "")


def test_every_console_page_without_a_session_redirects_to_sign_in(console: TestClient) -> None:
    for route in console_routes(console):
        if route.path == "/console/sign-in":
            continue
        for method in sorted(route.methods - {"HEAD"}):
            r = console.request(method, concrete(route.path), follow_redirects=False)
            assert r.status_code == 303, (method, route.path, r.status_code)
            assert r.headers["location"].startswith("/console/sign-in"), route.path


def test_a_revoked_token_is_signed_out_at_once(console: TestClient) -> None:
    minted = console.post(
        "/v1/tokens", json={"name": "m", "tenant_id": "acme"}, headers=auth(ADMIN)
    )
    token = minted.json()["token"]
    sign_in(console, token)
    assert console.get("/console/t/acme/glossaries").status_code == 200
    console.delete(f"/v1/tokens/{minted.json()['id']}", headers=auth(ADMIN))
    r = console.get("/console/t/acme/glossaries", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_every_form_post_without_the_csrf_value_is_refused(console: TestClient) -> None:
    csrf = sign_in(console, ACME)
    assert upload(console, csrf, "product").status_code == 303
    posts = [r for r in console_routes(console) if "POST" in r.methods]
    assert len(posts) >= 8
    for route in posts:
        for data in ({}, {"csrf": "0" * 64}):
            r = console.post(concrete(route.path), data=data, follow_redirects=False)
            assert r.status_code == 403, (route.path, data, r.status_code)
    # Nothing happened: the glossary is still there, the policy unset.
    page = console.get("/console/t/acme/glossaries/product")
    assert page.status_code == 200
    assert "Service default" in console.get("/console/t/acme/settings").text


def test_another_tenants_pages_answer_404_and_an_admin_sees_every_tenant(
    console: TestClient,
) -> None:
    csrf = sign_in(console, ACME)
    assert upload(console, csrf, "product").status_code == 303
    console.cookies.clear()
    csrf = sign_in(console, GLOBEX)
    for route in console_routes(console):
        if "{tenant}" not in route.path:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            data = {"csrf": csrf} if method == "POST" else None
            r = console.request(method, concrete(route.path), data=data, follow_redirects=False)
            assert r.status_code == 404, (method, route.path, r.status_code)
            assert "text/html" in r.headers["content-type"]
    assert console.get("/console/tenants", follow_redirects=False).headers["location"] == (
        "/console/t/globex/glossaries"
    )
    console.cookies.clear()
    sign_in(console, ADMIN)
    tenants = console.get("/console/tenants").text
    assert "/console/t/acme/glossaries" in tenants and "/console/t/globex/glossaries" in tenants
    assert console.get("/console/t/acme/glossaries/product").status_code == 200


def test_upload_problems_are_listed_by_row_and_column(console: TestClient) -> None:
    csrf = sign_in(console, ACME)
    broken = PRODUCT_CSV + b"\n,Leerer Begriff,,,,\n"
    r = upload(console, csrf, "product", broken)
    assert r.status_code == 422
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", r.text)
    assert rows and all(row.isdigit() for row, _, _ in rows)
    assert any("empty" in message for _, _, message in rows)
    # Nothing was saved.
    assert "No glossary yet" in console.get("/console/t/acme/glossaries").text


def test_the_console_is_not_in_the_openapi_document(console: TestClient) -> None:
    paths = console.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_bad_form_values_answer_422_pages_not_500(console: TestClient) -> None:
    csrf = sign_in(console, ACME)
    r = console.post("/console/t/acme/settings", data={"csrf": csrf, "qa_glossary_policy": "x"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert upload(console, csrf, "product").status_code == 303
    r = console.post(
        "/console/t/acme/glossaries/product/entries",
        data={"csrf": csrf, "term": "", "original": ""},
    )
    assert r.status_code == 422 and "empty" in r.text  # the form again, with the problem
    r = console.post(
        "/console/t/acme/glossaries/product/entries/delete", data={"csrf": csrf, "term": "nope"}
    )
    assert r.status_code == 409 and "no entry" in r.text
    assert console.get("/console/t/acme/glossaries/product?v=99").status_code == 404
    assert console.get("/console/t/acme/glossaries/product?offset=-1").status_code == 422


def test_the_settings_page_shows_each_kind_of_connection_and_no_secret(
    api_settings: Settings,
) -> None:
    settings = api_settings.model_copy(update={"truto_api_token": SecretStr("truto-secret-token")})
    key = "0123456789abcdef.SECRETsecretSECRET9876"
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        sign_in(c, ACME)

        def shown() -> str:
            page = c.get("/console/t/acme/settings")
            assert page.status_code == 200
            assert key not in page.text and "truto-secret-token" not in page.text
            return page.text

        assert "The service&#39;s Z.ai key" in shown()  # Jinja escapes the apostrophe
        put = {"kind": "zai_key", "api_key": key}
        assert c.put("/v1/tenants/acme/connection", json=put, headers=auth(ACME)).status_code == 200
        page = shown()
        assert "Own Z.ai API key" in page and "…9876" in page
        put = {"kind": "truto", "integrated_account_id": "acct-42"}
        assert c.put("/v1/tenants/acme/connection", json=put, headers=auth(ACME)).status_code == 200
        page = shown()
        assert "linked through Truto" in page and "acct-42" in page
