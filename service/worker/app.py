"""The worker process: Kafka intake → durable jobs → executor → outbox relay → Kafka.

The process exits only when told to (SIGTERM/SIGINT); an outage of the database or the broker
pauses work instead. A loop that dies of an unexpected error is logged and started again.
Shutdown order matters: stop taking messages (every batch read is already committed), let
running jobs finish within WORKER_GRACEFUL_TIMEOUT and hand back the rest, flush the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import uvicorn
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import text

from service import bootstrap
from service.config import Settings
from service.kafka.topics import ensure_topics, topic_specs
from service.pipeline.jobs import budget
from service.store.errors import is_unavailable
from service.store.migrate import upgrade
from service.store.outbox import SqlOutbox
from service.store.retention import Retention, prune
from service.store.tables import utcnow
from service.worker.asyncapi import asyncapi_json
from service.worker.http import create_app

logger = logging.getLogger(__name__)


class WorkerService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        parts = self.parts = bootstrap.build_worker(settings)
        self.owner, self.engine, self.sessions = parts.owner, parts.engine, parts.sessions
        self.metrics, self.executor, self.intake = parts.metrics, parts.executor, parts.intake

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        await self._prepare(stop)
        self.parts.relay.start()
        http = self._http_server()
        http_task = asyncio.create_task(http.serve())
        stop_intake, stop_exec = asyncio.Event(), asyncio.Event()
        intake = asyncio.create_task(_supervised("intake", self.intake.run, stop_intake))
        housekeeping = asyncio.create_task(self._housekeeping())
        gauges = asyncio.create_task(self._report_gauges())
        budget_gauges = asyncio.create_task(self._budget_gauges(s.budget_metrics_interval))
        executor = asyncio.create_task(_supervised("executor", self.executor.run, stop_exec))
        logger.info("worker started", extra={"owner": self.owner, "simulator": s.uses_simulator})
        try:
            await stop.wait()
        finally:
            housekeeping.cancel()
            gauges.cancel()
            budget_gauges.cancel()
            stop_intake.set()
            await asyncio.gather(intake, return_exceptions=True)
            stop_exec.set()
            await asyncio.gather(executor, return_exceptions=True)
            await self.executor.drain(s.worker_graceful_timeout)
            await self.parts.relay.stop()
            await self.parts.writes.close()  # the relay's last "sent" marks
            http.should_exit = True
            await asyncio.gather(http_task, return_exceptions=True)
            await self.parts.tenants.aclose()
            await self.parts.db.close()
            await self.engine.dispose()
            logger.info("worker stopped", extra={"owner": self.owner})

    async def _prepare(self, stop: asyncio.Event) -> None:
        """Schema and topics; an unreachable database or broker is waited for, not fatal."""
        if self.settings.database_auto_migrate:
            await _retrying("migrate", lambda: upgrade(self.engine), stop)
        specs = topic_specs(self.settings)
        await _retrying("topics", lambda: ensure_topics(self.parts.make_admin, specs), stop)

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

    async def _budget_gauges(self, every: float) -> None:
        """Budget gauges of every tenant from the database: the month rolls over and other
        workers' completions count even while this worker admits no job of a tenant."""
        shown: set[str] = set()
        while True:
            try:
                standings = await self.parts.budgets.overview()
                shown = budget.refresh(self.metrics, standings, shown)
            except Exception:
                logger.warning("budget gauges not refreshed; will retry", exc_info=True)
            await asyncio.sleep(every)

    async def _report_gauges(self, every: float = 15.0) -> None:
        """Readiness and the outbox's oldest row, for the dashboard and the alerts, whether or
        not anybody calls /readyz."""
        outbox = SqlOutbox(self.parts.db)
        while True:
            ready = 1
            for check in (self._check_db, self._check_kafka):
                try:
                    await asyncio.wait_for(check(), timeout=5.0)
                except Exception:
                    ready = 0
            self.metrics.ready.set(ready)
            with contextlib.suppress(Exception):  # the database check above tells
                oldest = await outbox.oldest_unsent()
                age = (utcnow() - oldest).total_seconds() if oldest else 0.0
                self.metrics.outbox_age.set(max(0.0, age))
            await asyncio.sleep(every)

    async def _check_db(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _check_kafka(self) -> None:
        consumer = self.intake.consumer
        if consumer is None:
            raise RuntimeError("consumer not started")
        await consumer.topics()  # a metadata round trip to the cluster


def freeze_heap() -> None:
    """Collect once, then move every object alive now (modules, classes, the SQLAlchemy
    metadata: ~200,000 objects) out of the garbage collector's reach (`gc.freeze`). A full
    collection walked them all, ~250 ms with the event loop stopped, every few seconds under
    load: the spikes of the paced latency (docs/benchmarks.md). Later objects are collected
    as before; a frozen object that dies is still freed by reference counting."""
    gc.collect()
    gc.freeze()


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker owns SIGTERM/SIGINT; uvicorn must not take them over


async def _supervised(
    name: str, loop: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run `loop` until `stop`; if it dies of an unexpected error, log it and start it again."""
    delay = 1.0
    while not stop.is_set():
        try:
            await loop(stop)
        except Exception:
            logger.exception("%s loop died; restarting it", name, extra={"in_seconds": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(30.0, delay * 2)


async def _retrying(what: str, step: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    delay = 1.0
    while True:
        try:
            await step()
            return
        except Exception as exc:
            # A database or broker that does not answer (yet) is waited for; anything else,
            # such as a bad URL or credentials, is a misconfiguration and ends the process.
            if stop.is_set() or not (is_unavailable(exc) or isinstance(exc, KafkaConnectionError)):
                raise
            logger.warning("start-up step waits", extra={"step": what, "error": repr(exc)})
        await asyncio.sleep(delay)
        delay = min(10.0, delay * 2)
