"""The admin REST API (FastAPI): tokens, tenant connections and credentials, glossaries, job
status, usage and budgets; and the web console under /console."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from service import bootstrap
from service.api import console, problems
from service.api.deps import ApiContext
from service.api.routes import (
    budget,
    connection,
    credentials,
    glossaries,
    jobs,
    signing,
    tokens,
    usage,
)
from service.api.routes import settings as tenant_settings
from service.auth.credentials import CredentialCipher
from service.config import Settings
from service.store.db import ping
from service.store.migrate import upgrade

_NOT_READY: dict[str, Any] = {
    "description": "The database does not answer",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
            }
        }
    },
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = CollectorRegistry()
    app = FastAPI(title="zai-l10n admin API", version="0.1.0", lifespan=_lifespan(settings))
    problems.install(app, html=(console.PREFIX, console.problem_page))
    for module in (
        tokens,
        connection,
        credentials,
        glossaries,
        jobs,
        tenant_settings,
        usage,
        budget,
        signing,
    ):
        app.include_router(module.router)
    console.install(app)
    _count_requests(app, registry)
    _health_routes(app, registry)
    bootstrap.instrument_api(app)  # request spans, while tracing is on
    return app


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = bootstrap.build_engine(settings)
        if settings.database_auto_migrate:
            await upgrade(engine)
        sessions = bootstrap.build_sessions(engine)
        app.state.engine = engine
        app.state.ctx = ApiContext(
            settings=settings, sessions=sessions, cipher=CredentialCipher(settings.credentials_key)
        )
        db = bootstrap.build_database(settings, max_connections=2)
        app.state.outbox = bootstrap.outbox_relay(settings, db)
        app.state.outbox.start()
        try:
            yield
        finally:
            await app.state.outbox.stop()
            await db.close()
            await engine.dispose()

    return lifespan


def _count_requests(app: FastAPI, registry: CollectorRegistry) -> None:
    requests = Counter(
        "zai_l10n_api_requests",
        "Admin API requests",
        ["method", "route", "status"],
        registry=registry,
    )

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")  # templates, not raw paths: bounded labels
        requests.labels(request.method, path, str(response.status_code)).inc()
        return response


def _health_routes(app: FastAPI, registry: CollectorRegistry) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: _NOT_READY})
    async def readyz() -> JSONResponse:
        """Readiness: the database answers."""
        try:
            await ping(app.state.engine)
        except Exception as exc:  # any failure means "do not send traffic"
            return JSONResponse({"status": "fail", "database": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
