"""The worker's own small HTTP surface: liveness, readiness, metrics and the AsyncAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.metrics import Metrics

Check = Callable[[], Awaitable[None]]


def create_app(
    metrics: Metrics, checks: dict[str, Check], asyncapi: Callable[[], str]
) -> Starlette:
    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        failures = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=5.0)
            except Exception as exc:  # any failure means "do not send traffic"
                failures[name] = type(exc).__name__
        metrics.ready.set(0 if failures else 1)
        status = 503 if failures else 200
        return JSONResponse({"status": "fail" if failures else "ok", "failures": failures}, status)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def asyncapi_endpoint(_: Request) -> Response:
        return Response(asyncapi(), media_type="application/json")

    return Starlette(
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/asyncapi.json", asyncapi_endpoint),
        ]
    )
