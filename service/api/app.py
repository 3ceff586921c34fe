"""The admin REST API (FastAPI): tokens, tenant credentials, glossaries, job status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from sqlalchemy import text

from service.api import problems
from service.api.deps import ApiContext
from service.api.routes import credentials, glossaries, jobs, tokens
from service.api.routes import settings as tenant_settings
from service.auth.credentials import CredentialCipher
from service.config import Settings
from service.outbox import OutboxRelay
from service.store.db import create_engine, session_factory
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
    requests = Counter(
        "zai_l10n_api_requests",
        "Admin API requests",
        ["method", "route", "status"],
        registry=registry,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if settings.database_auto_migrate:
            await upgrade(engine)
        sessions = session_factory(engine)
        app.state.engine = engine
        app.state.ctx = ApiContext(
            settings=settings, sessions=sessions, cipher=CredentialCipher(settings.credentials_key)
        )
        app.state.outbox = OutboxRelay(
            sessions, settings.kafka_bootstrap_servers, client_kwargs=settings.kafka_client_kwargs()
        )
        app.state.outbox.start()
        try:
            yield
        finally:
            await app.state.outbox.stop()
            await engine.dispose()

    app = FastAPI(title="zai-l10n admin API", version="0.1.0", lifespan=lifespan)
    problems.install(app)
    app.include_router(tokens.router)
    app.include_router(credentials.router)
    app.include_router(glossaries.router)
    app.include_router(jobs.router)
    app.include_router(tenant_settings.router)

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")  # templates, not raw paths: bounded labels
        requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: _NOT_READY})
    async def readyz() -> JSONResponse:
        """Readiness: the database answers."""
        try:
            async with app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "do not send traffic"
            return JSONResponse({"status": "fail", "database": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
