"""`zai-l10n translate`, as a function of its options: read, publish, wait, write, summarise.

Exit codes: 0 every language completed; 1 a language failed, the request was rejected, or the
wait timed out; 2 an input could not be used (file, text, option); 3 Kafka did not answer.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape

from service import bootstrap
from service.client.inputs import (
    InputError,
    Source,
    build_request,
    output_name,
    read_file,
    read_text,
)
from service.client.report import progress_bar, summary
from service.client.session import BrokerUnavailable, Outcome, TranslationClient, connected
from service.config import Settings
from service.pipeline.contract.messages import TranslationRequestV1

OK, FAILED, BAD_INPUT, NO_BROKER = 0, 1, 2, 3


@dataclass(frozen=True)
class TranslateOptions:
    paths: list[Path]
    text: str | None
    tenant: str
    targets: list[str]
    source_lang: str = "auto"
    glossary: str | None = None
    strategy: str = "general"
    wait: bool = True
    out: Path = Path(".")
    timeout: float = 600.0
    connect_timeout: float = 15.0
    # The tenant's signing secret: each request is signed (docs/events.md, "Signed requests").
    signing_secret: SecretStr | None = None


def requests_of(options: TranslateOptions) -> tuple[list[TranslationRequestV1], dict[str, str]]:
    """One request per file (or one for the text), and each request id's source label."""
    sources: list[Source] = [read_file(p) for p in options.paths]
    if options.text is not None:
        sources.append(read_text(options.text))
    if not sources:
        raise InputError("nothing to translate: give files, --text, or text on stdin")
    run = uuid.uuid4().hex[:8]
    requests = [
        build_request(
            source,
            request_id=f"cli-{run}-{i}",
            tenant=options.tenant,
            targets=options.targets,
            source_lang=options.source_lang,
            glossary=options.glossary,
            strategy=options.strategy,
        )
        for i, source in enumerate(sources, 1)
    ]
    return requests, {r.request_id: s.label for r, s in zip(requests, sources, strict=True)}


async def translate(
    settings: Settings,
    options: TranslateOptions,
    console: Console,
    *,
    broker: KafkaBroker | None = None,  # tests pass one under FastStream's TestKafkaBroker
    stdout: Console | None = None,  # translated text goes here (default: `console`)
) -> int:
    """Progress, the summary and errors go to `console`; translated text to `stdout`."""
    try:
        requests, labels = requests_of(options)
    except InputError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return BAD_INPUT
    broker = broker or bootstrap.faststream_broker(settings)
    client = TranslationClient(
        broker,
        settings.topic_requests,
        settings.topic_results,
        settings.topic_dlq,
        signing_secret=options.signing_secret,
    )
    try:
        async with connected(broker, options.connect_timeout):
            await client.pin_positions()
            await client.send(requests)
            for r in requests:
                console.print(
                    f"sent {escape(labels[r.request_id])} as request [bold]{r.request_id}[/]"
                )
            if not options.wait:
                console.print(f"follow with: zai-l10n status REQUEST_ID --tenant {options.tenant}")
                return OK
            outcomes = await _wait(client, requests, options, console)
    except BrokerUnavailable as exc:
        servers = settings.kafka_bootstrap_servers
        console.print(f"[red]error:[/] cannot reach Kafka at {servers} ({escape(str(exc))})")
        return NO_BROKER
    written = _write(outcomes, options, stdout or console)
    return _finish(outcomes, labels, written, client.missing(), options, console)


async def _wait(
    client: TranslationClient,
    requests: list[TranslationRequestV1],
    options: TranslateOptions,
    console: Console,
) -> list[Outcome]:
    total = sum(len(r.target_langs) for r in requests)
    with progress_bar(console) as bar:
        task = bar.add_task("translating", total=total)

        def advance(outcome: Outcome) -> None:
            langs = (
                1
                if outcome.target_lang
                else len(
                    next(r.target_langs for r in requests if r.request_id == outcome.request_id)
                )
            )
            bar.advance(task, langs)

        return await client.wait(options.timeout, on_outcome=advance)


def _finish(
    outcomes: list[Outcome],
    labels: dict[str, str],
    written: dict[tuple[str, str], str],
    missing: dict[str, set[str]],
    options: TranslateOptions,
    console: Console,
) -> int:
    console.print(summary(outcomes, labels, written))
    for rid, langs in missing.items():
        console.print(
            f"[red]timed out[/] after {options.timeout:.0f}s waiting for {escape(labels[rid])} "
            f"({', '.join(sorted(langs))}); see zai-l10n status {rid} --tenant {options.tenant}"
        )
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        label, lang = escape(labels[o.request_id]), o.target_lang or "all"
        console.print(f"[red]failed:[/] {label} {lang}: {escape(o.problem)}")
    return FAILED if failed or missing else OK


def _write(
    outcomes: list[Outcome], options: TranslateOptions, console: Console
) -> dict[tuple[str, str], str]:
    """Translated files into --out (`messages.de.po`, …); translated text to the console."""
    written: dict[tuple[str, str], str] = {}
    for o in outcomes:
        if not o.ok or o.target_lang is None:
            continue
        file = o.event.get("file")
        if file:
            path = options.out / output_name(str(file.get("filename") or "file"), o.target_lang)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(file["content_b64"]))
            written[(o.request_id, o.target_lang)] = str(path)
        else:
            text = escape(str(o.event.get("text")))
            console.print(f"[bold]{o.target_lang}[/]: {text}", soft_wrap=True)
            written[(o.request_id, o.target_lang)] = "(printed above)"
    return written
