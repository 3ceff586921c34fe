"""The worker process: Kafka intake → durable jobs → executor → outbox relay → Kafka.

Shutdown order matters: stop taking messages (every batch read is already committed), let
running jobs finish within WORKER_GRACEFUL_TIMEOUT and hand back the rest, flush the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import uvicorn
from pydantic import SecretStr
from sqlalchemy import text

from service.auth.credentials import CredentialCipher
from service.config import Settings
from service.glossary.cache_policy import CachePolicy
from service.glossary.upload_cache import UploadCache
from service.l10n.compliance import Policy
from service.metrics import Metrics
from service.outbox import OutboxRelay
from service.pipeline.clients import ClientPool
from service.pipeline.executor import Executor
from service.pipeline.retention import Retention, prune
from service.pipeline.runner import TargetRunner
from service.store.db import create_engine, session_factory
from service.store.migrate import upgrade
from service.store.tables import utcnow
from service.worker.asyncapi import asyncapi_json
from service.worker.http import create_app
from service.worker.intake import Intake
from service.worker.topics import ensure_topics
from service.zai import ZaiClient

logger = logging.getLogger(__name__)

# Any non-empty key passes the simulator when it runs without --api-key.
SIMULATOR_API_KEY = "simulator.local-key"


class WorkerService:
    def __init__(self, settings: Settings) -> None:
        s = self.settings = settings
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.engine = create_engine(s.database_url)
        self.sessions = session_factory(self.engine)
        self.metrics = Metrics()
        self.relay = OutboxRelay(
            self.sessions, s.kafka_bootstrap_servers, client_kwargs=s.kafka_client_kwargs()
        )
        default_key = s.zai_api_key or _secret(SIMULATOR_API_KEY)
        self.clients = ClientPool(
            self.sessions,
            CredentialCipher(s.credentials_key),
            default_key,
            lambda key: ZaiClient.from_settings(s, api_key=key),
        )
        cache = UploadCache(
            self.sessions,
            owner=self.owner,
            policy=CachePolicy(),
            on_upload=self.metrics.glossary_uploads.inc,
        )
        runner = TargetRunner(
            self.sessions,
            cache,
            self.metrics,
            chunk_chars=s.translation_chunk_chars,
            packing=s.translation_packing,
        )
        self.executor = Executor(
            self.sessions,
            runner,
            self.clients,
            self.metrics,
            owner=self.owner,
            results_topic=s.topic_results,
            max_in_flight=s.worker_max_in_flight,
            tenant_cap=s.worker_tenant_max_in_flight,
            lease=timedelta(seconds=s.worker_job_lease_seconds),
            default_policy=Policy(s.qa_glossary_policy),
            max_attempts=s.worker_job_max_attempts,
            on_outbox=self.relay.kick,
        )
        self.intake = Intake(
            s,
            self.sessions,
            self.metrics,
            on_accepted=self.executor.wake,
            on_outbox=self.relay.kick,
        )

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        if s.database_auto_migrate:
            await upgrade(self.engine)
        await ensure_topics(s)
        self.relay.start()
        http = self._http_server()
        http_task = asyncio.create_task(http.serve())
        stop_intake, stop_exec = asyncio.Event(), asyncio.Event()
        intake = asyncio.create_task(self.intake.run(stop_intake))
        housekeeping = asyncio.create_task(self._housekeeping())
        executor = asyncio.create_task(self.executor.run(stop_exec))
        logger.info("worker started", extra={"owner": self.owner, "simulator": s.uses_simulator})
        try:
            await _until(stop, intake, executor)
        finally:
            housekeeping.cancel()
            stop_intake.set()
            await asyncio.gather(intake, return_exceptions=True)
            stop_exec.set()
            await asyncio.gather(executor, return_exceptions=True)
            await self.executor.drain(s.worker_graceful_timeout)
            await self.relay.stop()
            http.should_exit = True
            await asyncio.gather(http_task, return_exceptions=True)
            await self.clients.aclose()
            await self.engine.dispose()
            logger.info("worker stopped", extra={"owner": self.owner})

    def _http_server(self) -> uvicorn.Server:
        app = create_app(
            self.metrics,
            {"database": self._check_db, "kafka": self._check_kafka},
            lambda: asyncapi_json(self.settings),
        )
        config = uvicorn.Config(
            app,
            host=self.settings.worker_http_host,
            port=self.settings.worker_http_port,
            log_level="warning",
            lifespan="off",
        )
        return _EmbeddedServer(config)

    async def _housekeeping(self, every: float = 3600.0) -> None:
        s = self.settings
        retention = Retention(
            jobs=timedelta(days=s.retention_jobs_days),
            memory=timedelta(days=s.retention_memory_days),
            outbox=timedelta(hours=s.retention_outbox_hours),
        )
        while True:
            try:
                async with self.sessions() as session:
                    removed = await prune(session, retention, utcnow())
                logger.info("housekeeping", extra=removed)
            except Exception:
                logger.warning("housekeeping failed; will retry", exc_info=True)
            await asyncio.sleep(every)

    async def _check_db(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _check_kafka(self) -> None:
        consumer = self.intake.consumer
        if consumer is None:
            raise RuntimeError("consumer not started")
        await consumer.topics()  # a metadata round trip to the cluster


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker owns SIGTERM/SIGINT; uvicorn must not take them over


async def _until(stop: asyncio.Event, *tasks: asyncio.Task[None]) -> None:
    """Wait for `stop`; a task that dies first is fatal (re-raised) rather than silently gone."""
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    for task in done:
        if task is not waiter:
            task.result()


def _secret(value: str) -> SecretStr:
    return SecretStr(value)
