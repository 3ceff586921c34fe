"""The admin REST API (FastAPI). Glossary and job routes are added by their issues."""

from __future__ import annotations

from fastapi import FastAPI

from service.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="zai-l10n admin API", version="0.1.0")
    app.state.settings = settings or Settings()

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
