"""The `zai-l10n` command line: worker, api, sim, migrate, demo, translate, status."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
import uvloop

from service.config import Settings, get_settings
from service.logs import configure_logging
from service.sim.cli import sim_command, truto_sim_command

app = typer.Typer(help="zai-l10n: Kafka-driven translation with Z.ai", no_args_is_help=True)
app.command("sim", help="Run the Z.ai simulator.")(sim_command)
app.command("truto-sim", help="Run the Truto simulator in front of a Z.ai simulator.")(
    truto_sim_command
)
glossary_app = typer.Typer(help="Glossaries as code.", no_args_is_help=True)
app.add_typer(glossary_app, name="glossary")


@app.command()
def worker() -> None:
    """Consume translation requests and publish translated events."""
    from service import bootstrap
    from service.worker.app import WorkerService, freeze_heap

    settings = get_settings()
    configure_logging(settings.log_level)
    provider = bootstrap.configure_tracing(settings, "zai-l10n-worker")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        service = WorkerService(settings)
        freeze_heap()  # built: what lives now lives as long as the process
        await service.run(stop)

    try:
        # uvloop: a quarter less CPU per Z.ai call over httpx's own transport, about the same
        # over aiohttp's (docs/benchmarks.md, benchmarks/http_client.py).
        uvloop.run(main())
    finally:
        bootstrap.shutdown_tracing(provider)


@app.command()
def api() -> None:
    """Serve the admin REST API."""
    from service import bootstrap
    from service.api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    provider = bootstrap.configure_tracing(settings, "zai-l10n-api")
    try:
        # log_config=None: uvicorn's own lines (access log included) go through our JSON
        # handler instead of its plain-text one.
        uvicorn.run(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
        )
    finally:
        bootstrap.shutdown_tracing(provider)


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
    run_demo = _load_demo()
    settings = get_settings()
    configure_logging("WARNING")
    # The broker was started a moment ago: aiokafka logs the group coordinator's warm-up as
    # errors, which would only confuse a first-time reader of the demo's output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    run_demo(settings)


def _load_demo() -> Callable[[Settings], None]:
    """The demo is dev tooling (`devstack/`, beside `service/` in a source checkout), not part
    of the package or the image: found next to this package in a checkout (an editable install
    or `python -m service` from it), else a clear error."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "devstack" / "demo.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))
    try:
        from devstack.demo import run_demo
    except ModuleNotFoundError as exc:
        if exc.name not in ("devstack", "devstack.demo"):
            raise
        typer.echo(
            "zai-l10n demo runs from a source checkout: it needs devstack/ (a local Kafka broker "
            "and the sample run), which the package does not ship. Clone the repository and run "
            "`bash scripts/demo.sh`.",
            err=True,
        )
        raise typer.Exit(2) from exc
    return run_demo


@glossary_app.command("import")
def glossary_import(
    root: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="<root>/<tenant>/<name>.<ext>")
    ],
) -> None:
    """Load a directory tree of glossaries; the same content twice makes no new version."""
    from service import bootstrap
    from service.api.glossary_ops import limits_of
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


@app.command()
def translate(
    tenant: Annotated[str, typer.Option(help="Tenant id")],
    to: Annotated[str, typer.Option("--to", help="Target languages, comma-separated: de,fr")],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Resource files (PO, XLIFF, JSON, Android strings.xml, …); - for stdin"
        ),
    ] = None,
    source_lang: Annotated[str, typer.Option("--from", help="Source language")] = "auto",
    glossary: Annotated[
        str | None, typer.Option(help="Glossary name; default: the tenant's")
    ] = None,
    strategy: Annotated[str, typer.Option(help="general, paraphrase, two_step, …")] = "general",
    text: Annotated[str | None, typer.Option(help="Translate this text instead of files")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the results")] = True,
    out: Annotated[Path, typer.Option(help="Folder for translated files")] = Path("."),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the results")] = 600.0,
    signing_secret: Annotated[
        str | None,
        typer.Option(
            envvar="ZAI_L10N_SIGNING_SECRET",
            help="The tenant's signing secret: sign each request (for tenants that require it)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Translate files or text through Kafka; write messages.de.po, strings.fr.xml, … into --out."""
    import sys

    from pydantic import SecretStr
    from rich.console import Console

    from service.client.translate import TranslateOptions
    from service.client.translate import translate as run

    files = [p for p in paths or [] if str(p) != "-"]
    if text is None and (len(files) < len(paths or []) or (not paths and not sys.stdin.isatty())):
        text = sys.stdin.read()  # `-`, or text piped in without files
    options = TranslateOptions(
        paths=files,
        text=text,
        tenant=tenant,
        targets=[t.strip() for t in to.split(",") if t.strip()],
        source_lang=source_lang,
        glossary=glossary,
        strategy=strategy,
        wait=wait,
        out=out,
        timeout=timeout,
        signing_secret=SecretStr(signing_secret) if signing_secret else None,
    )
    configure_logging("CRITICAL")  # the console says what went wrong; aiokafka's retries add noise
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    stderr, stdout = Console(stderr=True, highlight=False), Console(highlight=False)
    code = asyncio.run(run(get_settings(), options, stderr, stdout=stdout))
    raise typer.Exit(code=code)


@app.command()
def status(
    request_id: Annotated[str, typer.Argument(help="The request id")],
    tenant: Annotated[str, typer.Option(help="Tenant id")],
    api: Annotated[
        str | None,
        typer.Option(
            envvar="ZAI_L10N_API_URL",
            help="The admin API's base URL: ask it, with --token, instead of the database",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="ZAI_L10N_API_TOKEN", help="A tenant (or admin) API token"),
    ] = None,
) -> None:
    """Show a job and each of its languages: from the admin API with --api and --token (what a
    platform team has), else read from DATABASE_URL (what an operator beside the service has)."""
    from rich.console import Console

    from service.client.report import job_table
    from service.client.status import from_api

    console = Console(highlight=False)
    if api is not None:
        if not token:
            console.print("[red]error:[/] --api needs --token (or ZAI_L10N_API_TOKEN)")
            raise typer.Exit(code=2)
        found = from_api(api, token, tenant, request_id)
    else:
        found = asyncio.run(_job_from_database(tenant, request_id))
    if isinstance(found, str):
        console.print(f"[red]error:[/] {found}")
        raise typer.Exit(code=1)
    console.print(job_table(found))


async def _job_from_database(tenant: str, request_id: str) -> dict[str, Any] | str:
    """The job status API's answer, read from DATABASE_URL directly."""
    from service import bootstrap
    from service.api.problems import Problem
    from service.api.routes.jobs import job_status

    engine = bootstrap.build_engine(get_settings())
    try:
        async with bootstrap.build_sessions(engine)() as session:
            job = await job_status(session, tenant, request_id)
    except Problem:
        return f"tenant {tenant!r} has no job {request_id!r}"
    finally:
        await engine.dispose()
    return job.model_dump(mode="json")
