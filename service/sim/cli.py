"""`zai-l10n sim`: run the Z.ai simulator in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

from service.sim.config import (
    AsyncResultField,
    ErrorEnvelope,
    LatencyModel,
    Mode,
    SimConfig,
    UnknownGlossary,
)
from service.sim.server import serve


def sim_command(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    api_key: Annotated[
        list[str] | None,
        typer.Option(help="Accepted API key (repeatable). None given: any non-empty key works."),
    ] = None,
    latency_ms: Annotated[float, typer.Option(help="Reply latency (median for lognormal).")] = 0.0,
    latency_jitter_ms: Annotated[float, typer.Option(help="Half-width for uniform.")] = 0.0,
    latency_model: Annotated[
        LatencyModel, typer.Option(help="fixed, uniform or lognormal.")
    ] = "fixed",
    mode: Annotated[
        Mode, typer.Option(help="sync (as Z.ai) or async pending/poll (our drill mode).")
    ] = "sync",
    error_envelope: Annotated[
        ErrorEnvelope, typer.Option(help="nested error bodies (observed) or flat (OpenAPI).")
    ] = "nested",
    async_result_field: Annotated[
        AsyncResultField, typer.Option(help="message (Z.ai, an array) or messages (bigmodel).")
    ] = "message",
    async_pending_seconds: Annotated[float, typer.Option(help="How long async tasks pend.")] = 2.0,
    slow_seconds: Annotated[float, typer.Option(help="Delay added by the 'slow' fault.")] = 30.0,
    max_bytes: Annotated[int, typer.Option(help="Upload size limit (435 above).")] = 104_857_600,
    max_files: Annotated[int, typer.Option(help="Files per API key.")] = 100,
    retention_days: Annotated[float, typer.Option(help="Files vanish after this age.")] = 180.0,
    unknown_glossary: Annotated[
        UnknownGlossary, typer.Option(help="error (400 1214) or ignore.")
    ] = "error",
    seed: Annotated[int | None, typer.Option(help="Seed for ids and latency sampling.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve a local Z.ai look-alike (agents, async-result, files) plus the /_sim control API."""
    config = SimConfig(
        api_keys=tuple(api_key or ()),
        latency_ms=latency_ms,
        latency_jitter_ms=latency_jitter_ms,
        latency_model=latency_model,
        mode=mode,
        error_envelope=error_envelope,
        async_result_field=async_result_field,
        async_pending_seconds=async_pending_seconds,
        slow_seconds=slow_seconds,
        max_bytes=max_bytes,
        max_files=max_files,
        retention_days=retention_days,
        unknown_glossary=unknown_glossary,
        seed=seed,
    )
    serve(config, host, port, log_level)
