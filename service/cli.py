"""The `zai-l10n` command line: worker, api, sim, migrate, demo."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
import uvloop

from service.config import get_settings
from service.logs import configure_logging
from service.sim.cli import sim_command

app = typer.Typer(help="zai-l10n: Kafka-driven translation with Z.ai", no_args_is_help=True)
app.command("sim", help="Run the Z.ai simulator.")(sim_command)
glossary_app = typer.Typer(help="Glossaries as code.", no_args_is_help=True)
app.add_typer(glossary_app, name="glossary")


@app.command()
def worker() -> None:
    """Consume translation requests and publish translated events."""
    from service.worker.app import WorkerService

    settings = get_settings()
    configure_logging(settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await WorkerService(settings).run(stop)

    # uvloop: a quarter less CPU than asyncio's loop per Z.ai call (docs/benchmarks.md).
    uvloop.run(main())


@app.command()
def api() -> None:
    """Serve the admin REST API."""
    from service.api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from service import bootstrap
    from service.store.migrate import upgrade

    settings = get_settings()
    configure_logging(settings.log_level)

    async def main() -> None:
        engine = bootstrap.build_engine(settings)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


@app.command()
def demo() -> None:
    """Run the main job end to end on this machine and print the translated events."""
    from service.demo import run_demo

    settings = get_settings()
    configure_logging("WARNING")
    # The broker was started a moment ago: aiokafka logs the group coordinator's warm-up as
    # errors, which would only confuse a first-time reader of the demo's output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    run_demo(settings)


@glossary_app.command("import")
def glossary_import(
    root: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="<root>/<tenant>/<name>.<ext>")
    ],
) -> None:
    """Load a directory tree of glossaries; the same content twice makes no new version."""
    from service import bootstrap
    from service.api.routes.glossaries import limits_of
    from service.store.glossary_import import import_tree
    from service.store.migrate import upgrade

    settings = get_settings()
    configure_logging("WARNING")

    async def main() -> list[str]:
        engine = bootstrap.build_engine(settings)
        try:
            if settings.database_auto_migrate:
                await upgrade(engine)
            results = await import_tree(
                bootstrap.build_sessions(engine),
                root,
                topic=settings.topic_glossary_events,
                limits=limits_of(settings),
            )
        finally:
            await engine.dispose()
        for r in results:
            state = r.error or (f"version {r.version} " + ("(new)" if r.created else "(unchanged)"))
            typer.echo(f"{r.tenant_id}/{r.name}: {state}")
        return [r.error for r in results if r.error]

    if asyncio.run(main()):
        raise typer.Exit(code=1)
