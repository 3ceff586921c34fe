"""The console's second round in headless Chromium: the jobs list and its filters, failures
first on a job's page, the usage page's charts and budget, and the translation memory
searched and corrected (the next request for a deleted entry is translated again)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from service.sim.testing import SimulatorHandle
from tests.browser.conftest import (
    ACME,
    ADMIN,
    Console,
    job_done,
    read_text,
    request_id,
    shot,
    sign_in,
    unlabelled_controls,
    wait_for,
)
from tests.browser.test_console import GOOD
from tests.support.pipeline import results
from tests.support.worker import publish

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


async def labelled(page: Page) -> None:
    assert await unlabelled_controls(page) == [], page.url


async def translate(console: Console, *requests: dict[str, Any]) -> None:
    s = console.settings
    base = {"tenant_id": "acme", "source_lang": "en"}
    await publish(s.kafka_bootstrap_servers, s.topic_requests, [{**base, **r} for r in requests])
    for r in requests:
        rid = r["request_id"]
        await wait_for(lambda rid=rid: job_done(console, rid), what=f"job {rid}")  # type: ignore[misc]


async def glossary(console: Console, name: str) -> None:
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        r = await http.post(
            "/v1/tenants/acme/glossaries",
            headers={"Authorization": f"Bearer {ADMIN}"},
            data={"name": name, "is_default": "true"},
            files={"file": ("t.csv", GOOD, "text/csv")},
        )
    assert r.status_code in (201, 409), r.text


async def test_the_jobs_list_filters_by_state_language_request_id_and_day(
    console: Console, browser_page: Page
) -> None:
    await glossary(console, "terms-for-lists")
    tag = request_id()
    done, french, failed = f"{tag}-done", f"{tag}-fr", f"{tag}-failed"
    await translate(
        console,
        {"request_id": done, "target_langs": ["de", "ja"], "text": "Open the dashboard"},
        {"request_id": french, "target_langs": ["fr"], "text": "Download your invoice"},
        {"request_id": failed, "target_langs": ["de"], "text": "Hi", "glossary": "nope"},
    )
    page = browser_page
    await sign_in(page, console, ACME)
    await page.get_by_role("link", name="Jobs", exact=True).click()
    await labelled(page)
    jobs = page.get_by_role("table", name="Jobs")
    for rid in (done, french, failed):
        await expect(jobs.get_by_role("rowheader", name=rid)).to_be_visible()
    await shot(page, "jobs")

    await page.get_by_label("Request id contains").fill(tag.upper())  # any case
    await page.get_by_label("State").select_option("failed")
    await page.get_by_role("button", name="Filter").click()
    await expect(jobs.locator("tbody tr")).to_have_count(1)
    await expect(jobs.get_by_role("rowheader", name=failed)).to_be_visible()
    await expect(jobs.locator("tbody tr").first).to_contain_text("failed")

    await page.get_by_label("State").select_option("completed")
    await page.get_by_label("Language").select_option("fr")
    await page.get_by_role("button", name="Filter").click()
    await expect(jobs.locator("tbody tr")).to_have_count(1)
    await expect(jobs.get_by_role("rowheader", name=french)).to_be_visible()

    await page.get_by_label("Language").select_option("")
    await page.get_by_label("From day (UTC)").fill("2001-01-01")
    await page.get_by_label("To day (UTC)").fill("2001-01-31")
    await page.get_by_role("button", name="Filter").click()
    await expect(jobs).to_contain_text("No job matches.")
    await page.get_by_role("link", name="Clear").click()
    await expect(jobs.get_by_role("rowheader", name=done)).to_be_visible()


async def test_a_jobs_page_puts_failed_segments_first(
    console: Console, browser_page: Page, simulator: SimulatorHandle
) -> None:
    rid = request_id()
    segments = [
        {"id": "fine", "text": "Open the settings"},
        {"id": "broken", "text": "Hello {name}, welcome back"},
    ]
    # Every call, the first and the stricter retry, loses the placeholder.
    simulator.script("agents", ["placeholder_drop"] * 4)
    try:
        await translate(console, {"request_id": rid, "target_langs": ["de"], "segments": segments})
    finally:
        simulator.reset()
    page = browser_page
    await sign_in(page, console, ACME)
    await page.goto(console.url(f"/t/acme/jobs/{rid}"))
    rows = page.get_by_role("table", name="Segments of de, failures first").locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first.get_by_role("rowheader")).to_have_text("broken")
    await expect(rows.first).to_contain_text("failed")
    await expect(rows.first).to_contain_text("placeholder missing: {name}")
    await expect(rows.first.locator("mark.m-placeholder")).to_have_text("{name}")  # the source's
    await expect(rows.nth(1).get_by_role("rowheader")).to_have_text("fine")
    await labelled(page)


async def test_the_usage_page_charts_tokens_and_calls_and_shows_the_budget(
    console: Console, browser_page: Page
) -> None:
    rid = request_id()
    await translate(console, {"request_id": rid, "target_langs": ["de", "fr"], "text": "Usage"})
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        r = await http.put(
            "/v1/tenants/acme/budget",
            headers={"Authorization": f"Bearer {ADMIN}"},
            json={"monthly_tokens": 100_000},
        )
    assert r.status_code == 200, r.text
    page = browser_page
    origins: set[str] = set()
    page.on("request", lambda req: origins.add(req.url.split("/")[2]))
    await sign_in(page, console, ACME)
    await page.get_by_role("link", name="Usage", exact=True).click()
    await labelled(page)
    for title in ("Tokens per day", "Calls per day", "Tokens per language pair"):
        chart = page.get_by_role("img", name=title)
        await expect(chart).to_be_visible()
        assert await chart.locator("rect.bar").count() >= 1
    pairs = page.get_by_role("img", name="Calls per language pair")
    await expect(pairs.locator("text").filter(has_text="en→de")).to_have_count(1)
    assert await pairs.locator("rect.bar").count() >= 2  # en→de and en→fr
    per_pair = page.get_by_role("table", name="Per language pair")
    await expect(per_pair.get_by_role("rowheader", name="en→fr")).to_be_visible()
    await expect(page.locator("#budget")).to_contain_text("100,000 tokens")
    spent = await page.locator("#spent").get_attribute("value")
    assert spent is not None and int(spent) > 0
    await shot(page, "usage")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Export CSV").click()
    exported = read_text(await (await download.value).path())
    assert exported.startswith("tenant_id,day,source_lang,target_lang,translations")
    assert "acme," in exported and ",en,fr," in exported
    assert origins == {console.base_url.split("/")[2]}  # the charts load nothing from elsewhere


async def test_the_memory_is_searched_and_a_deleted_translation_is_made_again(
    console: Console, browser_page: Page
) -> None:
    await glossary(console, "terms-for-memory")
    text = f"Your billing summary {request_id()}"
    first = request_id()
    await translate(console, {"request_id": first, "target_langs": ["de"], "text": text})
    translated = time.monotonic()
    page = browser_page
    await sign_in(page, console, ACME)
    await page.get_by_role("link", name="Memory", exact=True).click()
    await labelled(page)
    await page.get_by_label("Source or translation contains").fill(text.split()[-1].upper())
    await page.get_by_role("button", name="Search").click()
    memory = page.get_by_role("table", name="Stored translations")
    await expect(memory.locator("tbody tr")).to_have_count(1)
    row = memory.locator("tbody tr").first
    await expect(row).to_contain_text(text)
    await expect(row).to_contain_text("en→de")
    await expect(row.get_by_role("link", name="terms-for-memory v1")).to_be_visible()
    await shot(page, "memory")

    await row.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("translated again")
    await page.get_by_label("Source or translation contains").fill(text.split()[-1])
    await page.get_by_role("button", name="Search").click()
    await expect(memory).to_contain_text("No stored translation matches.")

    # The same text again: no memory hit, a fresh translation (and a new entry). A worker
    # shares a translation it made for 30 s more (pipeline.md, "Translation memory"), which
    # would answer before the memory is asked: wait that out.
    await asyncio.sleep(max(0.0, 31 - (time.monotonic() - translated)))
    again = request_id()
    await translate(console, {"request_id": again, "target_langs": ["de"], "text": text})
    (event,) = await results(console.worker, {again}, 1)
    assert event["usage"]["memory_hits"] == 0 and event["usage"]["upstream_calls"] >= 1
    await page.reload()
    await expect(memory.locator("tbody tr")).to_have_count(1)
