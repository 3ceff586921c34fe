"""The web console under /console: localization managers' pages over the admin API's own
authorization and store functions (server-rendered Jinja2, htmx vendored under static/)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from service.api.console import (
    auth,
    entries,
    glossaries,
    jobs,
    memory_pages,
    tenant_pages,
    usage_pages,
)
from service.api.console.auth import sign_in_redirect
from service.api.console.render import HERE, problem_page
from service.api.console.session import PREFIX, SignInRequired

__all__ = ["PREFIX", "ROUTERS", "install", "problem_page"]

# Every console route (paths include the /console prefix), for the app and for route-walking tests.
ROUTERS = tuple(
    module.router
    for module in (auth, glossaries, entries, jobs, usage_pages, memory_pages, tenant_pages)
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInRequired, sign_in_redirect)
