"""`zai-l10n sim` and `zai-l10n truto-sim`: run a simulator in the foreground."""

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
from service.sim.server import make_server, serve
from service.sim.truto import TrutoSimApp
from service.sim.truto_model import TrutoSimConfig
from service.sim.truto_state import Account, TrutoState


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


def truto_sim_command(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8766,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    zai_base_url: Annotated[
        str, typer.Option(help="Root URL of the Z.ai simulator (or API) behind it.")
    ] = "http://127.0.0.1:8765",
    token: Annotated[
        list[str] | None,
        typer.Option(help="Accepted Truto API token (repeatable). None given: any works."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(help="An integrated account as ID=ZAI_KEY (repeatable)."),
    ] = None,
    account_limit: Annotated[int, typer.Option(help="Proxy calls per window per account.")] = 50,
    token_limit: Annotated[int, typer.Option(help="Calls per window per token.")] = 500,
    window_seconds: Annotated[float, typer.Option(help="Rate-limit window.")] = 10.0,
    retry_after: Annotated[int, typer.Option(help="Retry-After of its 429s.")] = 10,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve a local Truto Proxy API for the Z.ai integration, plus the /_truto control API."""
    config = TrutoSimConfig(
        zai_base_url=zai_base_url,
        tokens=tuple(token or ()),
        account_limit=account_limit,
        token_limit=token_limit,
        window_seconds=window_seconds,
        retry_after=retry_after,
    )
    state = TrutoState(config)
    for entry in account or ():
        account_id, sep, zai_key = entry.partition("=")
        if not sep or not account_id or not zai_key:
            raise typer.BadParameter(f"--account expects ID=ZAI_KEY, not {entry!r}")
        state.accounts[account_id] = Account(account_id, zai_key)
    state.startup_accounts = dict(state.accounts)
    make_server(TrutoSimApp(state), host, port, log_level, lifespan="on").run()
