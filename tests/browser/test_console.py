"""The glossary console in headless Chromium: what a localization manager does, end to end.

Upload with an error shown, fix and upload again, search, edit, compare, export; a job's page;
settings and the connection; tenant isolation and the admin's switcher. Every page visited is
checked for form controls without a label, and signing in is done with the keyboard only.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import (
    ACME,
    ADMIN,
    GLOBEX,
    Console,
    job_done,
    read_text,
    request_id,
    shot,
    sign_in,
    unlabelled_controls,
    wait_for,
)
from tests.support.worker import publish

pytestmark = [pytest.mark.browser, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()
BROKEN = GOOD + "onboarding,,intégration,オンボーディング,maybe,\n,Leer,vide,,,\n".encode()


def csv_file(content: bytes) -> dict[str, object]:
    return {"name": "product-terms.csv", "mimeType": "text/csv", "buffer": content}


async def labelled(page: Page) -> None:
    assert await unlabelled_controls(page) == [], page.url


async def test_upload_fix_search_edit_compare_export(console: Console, browser_page: Page) -> None:
    page = browser_page
    await sign_in(page, console, ACME)
    await expect(page.get_by_role("heading", name="Glossaries of acme")).to_be_visible()
    await labelled(page)

    # An upload with mistakes: nothing is saved, every problem has its row and column.
    await page.get_by_label("Name", exact=True).fill("product-terms")
    await page.get_by_label("File").set_input_files(csv_file(BROKEN))  # type: ignore[arg-type]
    await page.get_by_role("button", name="Upload", exact=True).click()
    problems = page.get_by_role("alert")
    await expect(problems).to_contain_text("What to fix")
    await expect(problems.get_by_role("row").filter(has_text="invalid_flag")).to_contain_text("24")
    await expect(problems.get_by_role("row").filter(has_text="empty_term")).to_contain_text("25")
    await shot(page, "upload-problems")

    # Fixed file, same form (the name was kept): a glossary with version 1.
    await expect(page.get_by_label("Name", exact=True)).to_have_value("product-terms")
    await page.get_by_label("File").set_input_files(csv_file(GOOD))  # type: ignore[arg-type]
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("saved as a new version")
    await expect(page.get_by_role("heading", name="product-terms")).to_be_visible()
    await labelled(page)
    await shot(page, "glossary")

    # Search as you type (htmx swaps the table in place).
    await page.get_by_label("Search terms, translations and notes").fill("ÜBERSICHT")
    entries = page.locator("#entries tbody tr")
    await expect(entries).to_have_count(1)
    await expect(entries.first).to_contain_text("dashboard")

    # Edit an entry: a new version, validated like an upload.
    await page.get_by_label("Search terms, translations and notes").fill("")
    await page.get_by_role("link", name="Edit dashboard").click()
    await labelled(page)
    await page.get_by_label("de", exact=True).fill("Armaturenbrett")
    await shot(page, "entry")
    await page.get_by_role("button", name="Save entry").click()
    await expect(page.get_by_role("status")).to_contain_text("entry was saved")

    # Compare version 1 with version 2.
    await page.get_by_role("button", name="Compare").click()
    await expect(page.locator("#summary")).to_have_text("0 added, 0 removed, 1 changed.")
    changed = page.get_by_role("table", name="Changed terms")
    await expect(changed).to_contain_text("Übersicht")
    await expect(changed).to_contain_text("Armaturenbrett")
    await labelled(page)
    await shot(page, "compare")

    # Export what is now current, and make it the default.
    await page.get_by_role("link", name="product-terms").first.click()
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Export CSV").click()
    exported = read_text(await (await download.value).path())
    assert "dashboard,Armaturenbrett" in exported
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Export TBX").click()
    assert "<martif" in read_text(await (await download.value).path())
    await page.get_by_role("button", name="Make default").click()
    await expect(page.get_by_role("status")).to_contain_text("now the tenant's default")


async def test_job_page_shows_each_language_and_its_qa(
    console: Console, browser_page: Page
) -> None:
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        await http.post(
            "/v1/tenants/acme/glossaries",
            headers={"Authorization": f"Bearer {ADMIN}"},
            data={"name": "terms-for-jobs", "is_default": "true"},
            files={"file": ("t.csv", GOOD, "text/csv")},
        )
    done, failed = request_id(), request_id()
    s = console.settings
    base = {"tenant_id": "acme", "source_lang": "en", "target_langs": ["de", "fr"]}
    segments = [
        {"id": "title", "text": "Download your invoice"},
        {"id": "greeting", "text": "Hello {name}, open the dashboard."},
    ]
    await publish(
        s.kafka_bootstrap_servers,
        s.topic_requests,
        [
            {**base, "request_id": done, "segments": segments},
            {**base, "request_id": failed, "text": "Hi", "glossary": "no-such-glossary"},
        ],
    )
    for rid in (done, failed):
        await wait_for(lambda rid=rid: job_done(console, rid), what=f"job {rid}")  # type: ignore[misc]

    page = browser_page
    await sign_in(page, console, ACME)
    await page.get_by_role("link", name="Jobs", exact=True).click()
    await labelled(page)
    await page.get_by_label("Request id contains").fill(done)
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name=done).click()
    languages = page.get_by_role("table", name="Languages")
    for lang in ("de", "fr"):
        row = languages.get_by_role("row").filter(has=page.get_by_role("rowheader", name=lang))
        await expect(row).to_contain_text("completed")
        await expect(row).to_contain_text("2 / 0 / 0")  # segments ok / warning / failed
    # Source and translation side by side, placeholders and glossary terms marked.
    side = page.get_by_role("table", name="Segments of de, failures first")
    greeting = side.get_by_role("row").filter(has=page.get_by_role("rowheader", name="greeting"))
    await expect(greeting).to_contain_text("Hello {name}, open the dashboard.")
    await expect(greeting).to_contain_text("ok")
    await expect(greeting.locator("mark.m-placeholder")).to_have_count(2)  # source, translation
    await expect(greeting.locator("mark.m-placeholder").first).to_have_text("{name}")
    title = side.get_by_role("row").filter(has=page.get_by_role("rowheader", name="title"))
    await expect(title.locator("mark.m-term", has_text="invoice")).to_have_count(1)  # source
    await expect(title.locator("mark.m-term", has_text="Rechnung")).to_have_count(1)  # target
    await labelled(page)
    await shot(page, "job")

    await page.goto(console.url(f"/t/acme/jobs/{failed}"))
    row = page.get_by_role("table", name="Languages").get_by_role("row").nth(1)
    await expect(row).to_contain_text("failed")
    await expect(row).to_contain_text("glossary.not_found")


async def test_settings_show_the_connection_but_never_the_key(
    console: Console, browser_page: Page
) -> None:
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        r = await http.put(
            "/v1/tenants/globex/credentials/zai",
            headers={"Authorization": f"Bearer {ADMIN}"},
            json={"api_key": "0123abcd.s3cr3t-value-WXYZ"},
        )
    assert r.status_code == 200, r.text
    page = browser_page
    await sign_in(page, console, GLOBEX)
    await page.get_by_role("link", name="Settings", exact=True).click()
    await expect(page.locator("#connection")).to_contain_text("Own Z.ai API key")
    await expect(page.locator("#connection")).to_contain_text("…WXYZ")
    assert "s3cr3t" not in await page.content()
    await page.get_by_label("When a translation misses a glossary term").select_option("fail")
    await labelled(page)
    await shot(page, "settings")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("settings were saved")
    await expect(page.get_by_label("When a translation misses a glossary term")).to_have_value(
        "fail"
    )


async def test_a_tenant_sees_only_its_own_and_an_admin_switches(
    console: Console, browser_page: Page
) -> None:
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        await http.post(
            "/v1/tenants/acme/glossaries",
            headers={"Authorization": f"Bearer {ACME}"},
            data={"name": "acme-only"},
            files={"file": ("t.csv", GOOD, "text/csv")},
        )
    page = browser_page
    await sign_in(page, console, GLOBEX)
    await expect(page.get_by_text("Signed in as tenant globex")).to_be_visible()
    # The first Tab stop is the skip link; Enter moves focus to the page's content.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await expect(page.get_by_role("link", name="Tenants")).to_have_count(0)
    for path in ("/t/acme/glossaries", "/t/acme/glossaries/acme-only", "/t/acme/settings"):
        response = await page.goto(console.url(path))
        assert response is not None and response.status == 404, path
        await expect(page.get_by_role("heading", level=1)).to_contain_text("404")
        assert "acme-only" not in await page.content()

    await page.get_by_role("link", name="Back to the console").click()
    await expect(page.get_by_role("heading", name="Glossaries of globex")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("signed out")
    await sign_in(page, console, ADMIN)
    tenants = page.get_by_role("table", name="Known tenants")
    await expect(tenants.get_by_role("rowheader", name="acme", exact=True)).to_be_visible()
    await expect(tenants.get_by_role("rowheader", name="globex", exact=True)).to_be_visible()
    await labelled(page)
    await shot(page, "tenants")
    # The switcher, by keyboard: type a tenant id, Enter.
    await page.get_by_label("Tenant", exact=True).fill("acme")
    await page.get_by_label("Tenant", exact=True).press("Enter")
    await expect(page.get_by_role("heading", name="Glossaries of acme")).to_be_visible()
    await expect(page.get_by_role("link", name="acme-only")).to_be_visible()


async def test_the_console_loads_nothing_from_another_origin(
    console: Console, browser_page: Page
) -> None:
    page = browser_page
    origins: set[str] = set()
    page.on("request", lambda r: origins.add(r.url.split("/")[2]))
    await sign_in(page, console, ACME)
    await page.goto(console.url("/t/acme/glossaries"))
    assert origins == {console.base_url.split("/")[2]}
    assert json.loads(await page.evaluate("JSON.stringify(typeof htmx)")) == "object"
