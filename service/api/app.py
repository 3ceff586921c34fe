"""The admin REST API (FastAPI): tokens, tenant credentials, glossaries, job status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import problems
from service.api.deps import ApiContext
from service.api.routes import credentials, glossaries, tokens
from service.auth.credentials import CredentialCipher
from service.config import Settings
from service.outbox import OutboxRelay
from service.store.db import create_engine, session_factory
from service.store.migrate import upgrade


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if settings.database_auto_migrate:
            await upgrade(engine)
        sessions = session_factory(engine)
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

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
