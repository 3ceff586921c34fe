"""`zai-l10n demo`: the whole main job on one machine, from nothing to a printed translated event.

Starts a local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the Z.ai simulator (unless
ZAI_API_KEY is set), and the worker on SQLite (a temporary file unless DATABASE_URL is set);
imports the sample glossaries from `glossaries/` with acme's product terms as its default
glossary; publishes one request for tenant acme, prints the result events and shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from devstack.kafka import start_kafka
from service import bootstrap
from service.config import Settings
from service.glossary.limits import GlossaryLimits
from service.store import glossaries as repository
from service.store.glossary_import import import_tree
from service.store.migrate import upgrade
from service.worker.app import WorkerService

SAMPLE_TEXT = "Open the dashboard to download your invoice."
GLOSSARIES = Path(__file__).resolve().parents[1] / "glossaries"


def run_demo(settings: Settings, timeout: float = 120.0) -> None:
    with contextlib.ExitStack() as stack:
        if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            _say("starting a local Kafka broker (first run resolves its jars from Maven Central)")
            kafka = start_kafka()
            stack.callback(kafka.stop)
            settings = settings.model_copy(
                update={"kafka_bootstrap_servers": kafka.bootstrap_servers}
            )
        if "DATABASE_URL" not in os.environ:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="zai-l10n-demo-"))
            url = f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"
            settings = settings.model_copy(update={"database_url": url})
        settings = settings.model_copy(update={"worker_http_port": _free_port()})
        if settings.uses_simulator:
            port = _free_port()
            stack.enter_context(_simulator(port))
            settings = settings.model_copy(update={"sim_port": port})
            _say(f"Z.ai simulator on port {port} (set ZAI_API_KEY to call the real Z.ai)")
        else:
            _say("calling the real Z.ai API")
        asyncio.run(_import_glossaries(settings))
        asyncio.run(_publish_and_wait(settings, timeout))


async def _import_glossaries(settings: Settings) -> None:
    engine = bootstrap.build_engine(settings)
    try:
        await upgrade(engine)
        sessions = bootstrap.build_sessions(engine)
        results = await import_tree(
            sessions, GLOSSARIES, topic=settings.topic_glossary_events, limits=GlossaryLimits()
        )
        async with sessions() as s:
            acme = await repository.find(s, "acme", "product-terms")
            if acme is not None and not acme.is_default:
                await repository.save(
                    s,
                    tenant_id="acme",
                    name=acme.name,
                    doc=await repository.document(s, acme, acme.current_version),
                    author="demo",
                    is_default=True,
                )
                await s.commit()
    finally:
        await engine.dispose()
    names = ", ".join(f"{r.tenant_id}/{r.name}" for r in results if r.error is None)
    _say(f"glossaries imported: {names} (acme/product-terms is acme's default)")


async def _publish_and_wait(settings: Settings, wait_s: float) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(WorkerService(settings).run(stop))
    request_id = f"demo-{uuid.uuid4().hex[:8]}"
    request: dict[str, object] = {
        "request_id": request_id,
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de", "fr"],
        "text": SAMPLE_TEXT,
        "metadata": {"origin": "zai-l10n demo"},
    }
    try:
        await _wait_for_topics(settings, worker)
        await _publish(settings, request)
        _say(f"published request {request_id} to {settings.topic_requests}")
        for event in await _collect(settings, request_id, 2, wait_s):
            print(json.dumps(event, indent=2, ensure_ascii=False))  # noqa: T201 - the demo's output
    finally:
        stop.set()
        await worker


async def _wait_for_topics(settings: Settings, worker: asyncio.Task[None]) -> None:
    # The worker creates the topics at start; give it a moment so our consumer sees them.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.done():
            worker.result()
        consumer = bootstrap.kafka_consumer(settings)
        await consumer.start()
        try:
            if settings.topic_results in await consumer.topics():
                return
        finally:
            await consumer.stop()
        await asyncio.sleep(0.2)
    raise TimeoutError("worker did not create its topics")


async def _publish(settings: Settings, request: dict[str, object]) -> None:
    producer = bootstrap.kafka_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_requests,
            json.dumps(request).encode(),
            key=str(request["tenant_id"]).encode(),
        )
    finally:
        await producer.stop()


async def _collect(
    settings: Settings, request_id: str, expected: int, wait_s: float
) -> list[dict[str, object]]:
    consumer = bootstrap.kafka_consumer(
        settings,
        settings.topic_results,
        auto_offset_reset="earliest",
        group_id=f"demo-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    found: list[dict[str, object]] = []
    try:
        async with asyncio.timeout(wait_s):
            async for record in consumer:
                event = json.loads(record.value or b"{}")
                if event.get("request_id") == request_id:
                    found.append(event)
                    if len(found) == expected:
                        return found
    finally:
        await consumer.stop()
    return found


@contextlib.contextmanager
def _simulator(port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "sim", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/_sim/counters", proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited with code {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"simulator did not answer at {url}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr)  # noqa: T201 - progress for the person running it
