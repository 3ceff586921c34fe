"""The console's jobs list, job page, usage and memory pages over HTTP, on SQLite and
PostgreSQL, with data written as the worker writes it: filters, marks, charts, the budget, the
memory search and a delete that is the tenant's own only."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.pipeline.ports import Remembered
from service.store import budgets, usage
from service.store.db import create_engine, session_factory
from service.store.driver import open_database
from service.store.memory import SqlMemory
from service.store.tables import Job, JobTarget
from service.store.writes import WriteBatch
from tests.integration.api.conftest import ACME, GLOBEX
from tests.integration.console.test_console_http import csrf_of, sign_in, upload

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
KEY = "d" * 64
OUTCOME = {
    "type": "translation.completed",
    "segments": [
        {"id": "greeting", "text": "Hallo {name}, öffnen Sie die Übersicht."},
        {"id": "title", "text": "Ihre Rechnung"},
    ],
    "qa": {
        "totals": {"segments": 2, "ok": 1, "warning": 1, "failed": 0},
        "segments": [
            {"index": 0, "status": "ok", "glossary": {"hits": ["Übersicht"]}},
            {
                "index": 1,
                "status": "warning",
                "glossary": {"misses": ["Rechnung"]},
                "codes": ["glossary_miss"],
            },
        ],
    },
}


@pytest.fixture
def console(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings), base_url="https://testserver") as c:
        asyncio.run(seed(api_settings.database_url))
        yield c


async def seed(url: str) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as s:
            job_id = str(uuid.uuid4())
            request = {
                "request_id": "checkout-7",
                "tenant_id": "acme",
                "source_lang": "en",
                "target_langs": ["de"],
                "segments": [
                    {"id": "greeting", "text": "Hello {name}, open the dashboard."},
                    {"id": "title", "text": "Your invoice"},
                ],
            }
            s.add(
                Job(
                    id=job_id,
                    tenant_id="acme",
                    request_id="checkout-7",
                    state="done",
                    request=request,
                    source_topic="t",
                    source_partition=0,
                    source_offset=0,
                    created_at=now,
                    finished_at=now,
                )
            )
            await s.flush()
            s.add(JobTarget(job_id=job_id, target_lang="de", state="completed", outcome=OUTCOME))
            await s.commit()
        body = {
            "type": "translation.completed",
            "tenant_id": "acme",
            "source_lang": "en",
            "target_lang": "de",
            "usage": {"total_tokens": 1234, "upstream_calls": 2},
        }
        async with engine.begin() as conn:
            await budgets.set_budget(conn, "acme", 10_000)
        db = open_database(engine.url.render_as_string(hide_password=False))
        await db.run(usage.add(db.dialect, usage.ledger_rows([body], now.date())))
        await SqlMemory(db, WriteBatch(db)).remember(
            "acme", {KEY: Remembered("Ihre Rechnung", "Your invoice", "en", "de", None, None)}
        )
        await db.close()
    finally:
        await engine.dispose()


def test_the_jobs_list_filters_and_the_job_page_shows_source_beside_translation(
    console: TestClient,
) -> None:
    sign_in(console, ACME)
    listed = console.get("/console/t/acme/jobs", params={"state": "completed", "lang": "de"})
    assert listed.status_code == 200 and "checkout-7" in listed.text
    for params in (
        {"state": "failed"},
        {"lang": "fr"},
        {"request_id": "nope"},
        {"to": "2001-01-01"},
    ):
        r = console.get("/console/t/acme/jobs", params=params)
        assert r.status_code == 200 and "checkout-7" not in r.text, params
    assert console.get("/console/t/acme/jobs", params={"from": "2026-02-30"}).status_code == 422
    page = console.get("/console/t/acme/jobs/checkout-7").text
    table = page[page.index("Segments of de, failures first") :]
    assert table.index(">title<") < table.index(">greeting<")  # the warning first
    assert '<mark class="m-placeholder" title="placeholder">{name}</mark>' in table
    assert '<mark class="m-term" title="term">Übersicht</mark>' in table  # in the translation
    assert "glossary: “Rechnung” missing" in table


def test_the_usage_page_charts_the_ledger_and_shows_the_budget(console: TestClient) -> None:
    sign_in(console, ACME)
    r = console.get("/console/t/acme/usage")
    assert r.status_code == 200
    assert r.text.count('<svg class="chart"') == 4
    assert "<title>en→de: 1,234</title>" in r.text  # the bar of the pair
    assert re.search(r'<meter id="spent"[^>]* max="10000"[^>]* value="1234"', r.text)
    csv = console.get("/console/t/acme/usage/export")
    assert csv.headers["content-type"].startswith("text/csv")
    assert ",en,de,1,2," in csv.text


def test_the_memory_is_searched_and_an_entry_deleted_by_its_tenant_only(
    console: TestClient,
) -> None:
    csrf = sign_in(console, GLOBEX)
    r = console.post("/console/t/globex/memory/delete", data={"csrf": csrf, "key": KEY})
    assert r.status_code == 404  # acme's entry is not globex's to delete
    console.post("/console/sign-out", data={"csrf": csrf})
    csrf = sign_in(console, ACME)
    found = console.get("/console/t/acme/memory", params={"q": "INVOICE"})
    assert "Ihre Rechnung" in found.text and "en→de" in found.text
    assert "Ihre Rechnung" not in console.get("/console/t/acme/memory", params={"q": "zzz"}).text
    bad = console.post("/console/t/acme/memory/delete", data={"csrf": csrf, "key": "x"})
    assert bad.status_code == 422
    r = console.post(
        "/console/t/acme/memory/delete",
        data={"csrf": csrf_of(found.text), "key": KEY},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("notice=memory-deleted")
    assert "Ihre Rechnung" not in console.get("/console/t/acme/memory").text


def test_an_upload_not_in_utf8_says_which_encoding_was_assumed(console: TestClient) -> None:
    csrf = sign_in(console, ACME)
    western = "en,de\ninvoice,Rechnung\ncafé,Café\nprice in €,Preis in €\nnaïve,naiv\n"
    r = upload(console, csrf, "western", western.encode("cp1252"))
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    page = console.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert "it was read as cp1252" in page and "Preis in €" in page
    r = console.post(
        "/console/t/acme/glossaries",
        data={"csrf": csrf, "name": "named", "encoding": "cp1251"},
        files={"file": ("t.csv", "en,ru\ninvoice,счёт\n".encode("cp1251"), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "encoding=cp1251" in r.headers["location"]
    assert "счёт" in console.get(r.headers["location"]).text
