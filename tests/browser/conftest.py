"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

`console` serves the admin API (and so the console) with uvicorn on a free port, beside an
in-process worker, on one SQLite database, the session's Kafka broker and the simulator. Each test
gets a fresh browser profile (`browser_page`). Playwright only drives /usr/bin/chromium
(installed by scripts/system-deps.sh); it never downloads a browser.

Screenshots of the main pages are written when CONSOLE_SCREENSHOTS names a folder:
    CONSOLE_SCREENSHOTS=docs/console .venv/bin/pytest tests/browser
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import BrowserContext, Page, async_playwright
from pydantic import SecretStr

from service.api.app import create_app
from service.auth.credentials import new_key
from service.config import Settings
from service.sim.testing import SimulatorHandle
from service.worker.app import WorkerService
from tests.support.pipeline import running_worker
from tests.support.worker import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN, ACME, GLOBEX = "admin-browser-token", "acme-browser-token", "globex-browser-token"
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


@dataclass
class Console:
    base_url: str
    settings: Settings
    worker: WorkerService

    def url(self, path: str) -> str:
        return f"{self.base_url}/console{path}"


@pytest.fixture(scope="module")
async def console(
    kafka_bootstrap_servers: str,
    simulator: SimulatorHandle,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Console]:
    db = tmp_path_factory.mktemp("console") / "console.db"
    async for worker in running_worker(
        kafka_bootstrap_servers, f"sqlite+aiosqlite:///{db}", simulator
    ):
        settings = worker.settings.model_copy(
            update={
                "api_admin_token": SecretStr(ADMIN),
                "api_tenant_tokens": {"acme": SecretStr(ACME), "globex": SecretStr(GLOBEX)},
                "credentials_key": SecretStr(new_key()),
            }
        )
        port = free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        try:
            yield Console(f"http://127.0.0.1:{port}", settings, worker)
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def browser_context(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            tmp_path / "profile",  # a fresh --user-data-dir per test
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def browser_page(browser_context: BrowserContext) -> Page:
    return browser_context.pages[0] if browser_context.pages else await browser_context.new_page()


async def sign_in(page: Page, console: Console, token: str) -> None:
    """With the keyboard only: the token field has focus, Enter submits."""
    await page.goto(console.url("/sign-in"))
    await page.get_by_label("API token").focus()
    await page.keyboard.type(token)
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: "/sign-in" not in url)


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=_folder(SCREENSHOTS) / f"{name}.png", full_page=True)


def _folder(name: str) -> Path:
    folder = Path(name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_text(path: Path | str) -> str:
    """A small downloaded file (a blocking read is fine in a test)."""
    return Path(path).read_text(encoding="utf-8")


async def unlabelled_controls(page: Page) -> list[str]:
    """Visible form controls a screen reader could not name (no label, no aria-label)."""
    result: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby')
                          && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    return result


async def wait_for(
    check: Callable[[], Coroutine[Any, Any, bool]], within: float = 60.0, what: str = ""
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def job_done(console: Console, request_id: str) -> bool:
    async with httpx.AsyncClient(base_url=console.base_url) as http:
        r = await http.get(
            f"/v1/tenants/acme/jobs/{request_id}", headers={"Authorization": f"Bearer {ADMIN}"}
        )
    return r.status_code == 200 and r.json()["state"] == "done"


def request_id() -> str:
    return f"browser-{uuid.uuid4().hex[:8]}"
