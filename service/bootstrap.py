"""Composition root: the one place where settings become engines, clients and components.

The worker (`service.worker.app`), the admin API (`service.api.app`), the CLI and the demo get
everything they run from here; nothing else builds an engine, a Kafka client or a Z.ai client.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher
from service.config import KafkaSecurityProtocol, Settings
from service.glossary.cache_policy import CachePolicy
from service.kafka.consumer import KafkaIntake
from service.kafka.relay import OutboxRelay
from service.l10n.compliance import Policy
from service.metrics import Metrics
from service.pipeline.durable import Durable
from service.pipeline.executor import Executor, ExecutorConfig
from service.pipeline.intake import Intake, IntakeConfig
from service.pipeline.language_run import RunConfig, RunDeps
from service.pipeline.ports import Accepted
from service.store.db import create_engine, session_factory
from service.store.glossaries import SqlGlossaries
from service.store.glossary_files import UploadCache
from service.store.jobs import SqlJobStore
from service.store.memory import SqlMemory
from service.store.outbox import SqlOutbox
from service.store.tenants import SqlTenants
from service.zai import ZaiClient
from service.zai.retry import RetryPolicy

# Any non-empty key passes the simulator when it runs without --api-key.
SIMULATOR_KEY = "simulator.local-key"


# --- database ------------------------------------------------------------------------------


def build_engine(settings: Settings) -> AsyncEngine:
    return create_engine(settings.database_url)


def build_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


# --- Kafka ---------------------------------------------------------------------------------


def kafka_security(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments for every aiokafka producer, consumer and admin client."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol.value}
    if protocol in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL):
        kwargs["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if protocol in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL):
        assert settings.kafka_sasl_password is not None  # checked by the settings validator
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


def kafka_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        **kafka_security(settings),
        **options,
    )


def kafka_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **kafka_security(settings),
        **options,
    )


def kafka_admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, **kafka_security(settings)
    )


def request_consumer(settings: Settings) -> AIOKafkaConsumer:
    """The worker's consumer of the requests topic: offsets committed by hand after persisting."""
    return kafka_consumer(
        settings,
        group_id=settings.kafka_group_id,
        client_id="zai-l10n-worker",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.worker_batch_size,
    )


def outbox_relay(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> OutboxRelay:
    return OutboxRelay(SqlOutbox(sessions), lambda: kafka_producer(settings))


# --- Z.ai ----------------------------------------------------------------------------------


def zai_client(settings: Settings, api_key: SecretStr | str | None = None) -> ZaiClient:
    """A client for the configured region or explicit URLs; without a key, the simulator."""
    key = api_key or settings.zai_api_key or SIMULATOR_KEY
    agents, files = settings.zai_base_urls()
    return ZaiClient(
        key,
        agents_base_url=agents,
        files_base_url=files,
        connect_timeout=settings.zai_connect_timeout,
        read_timeout=settings.zai_read_timeout,
        max_concurrency=settings.zai_max_concurrency,
        retry=RetryPolicy(
            max_retries=settings.zai_max_retries,
            base=settings.zai_backoff_base,
            max=settings.zai_backoff_max,
        ),
        async_deadline=settings.zai_async_deadline,
    )


def tenants(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> SqlTenants:
    default_key = settings.zai_api_key or SecretStr(SIMULATOR_KEY)
    return SqlTenants(
        sessions,
        CredentialCipher(settings.credentials_key),
        default_key,
        lambda key: zai_client(settings, key),
    )


# --- the worker ----------------------------------------------------------------------------


@dataclass
class WorkerParts:
    owner: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metrics: Metrics
    tenants: SqlTenants
    relay: OutboxRelay
    executor: Executor
    intake: KafkaIntake
    make_admin: Callable[[], AIOKafkaAdminClient]


def worker_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_worker(settings: Settings, *, metrics: Metrics | None = None) -> WorkerParts:
    s, owner = settings, worker_owner()
    engine = build_engine(s)
    sessions = build_sessions(engine)
    metrics = metrics or Metrics()
    relay, pool = outbox_relay(s, sessions), tenants(s, sessions)
    # Completions hand their events to this worker's relay: no query to find them.
    store = SqlJobStore(sessions, handoff=relay)
    files = UploadCache(
        sessions, owner=owner, policy=CachePolicy(), on_upload=metrics.glossary_uploads.inc
    )
    deps = RunDeps(
        store=store,
        memory=SqlMemory(sessions),
        files=files,
        metrics=metrics,
        durable=Durable(),
        config=RunConfig(
            chunk_chars=s.translation_chunk_chars,
            packing=s.translation_packing,
            call_concurrency=s.translation_call_concurrency,
        ),
    )
    executor = Executor(deps, pool, SqlGlossaries(sessions), _executor_config(s, owner))
    intake = Intake(store, metrics, _intake_config(s))
    consumer = KafkaIntake(
        lambda: request_consumer(s),
        s.topic_requests,
        intake,
        metrics,
        batch_size=s.worker_batch_size,
        on_accepted=_accepted(executor.wake, relay.kick),
    )
    return WorkerParts(
        owner, engine, sessions, metrics, pool, relay, executor, consumer, lambda: kafka_admin(s)
    )


def _executor_config(s: Settings, owner: str) -> ExecutorConfig:
    return ExecutorConfig(
        owner=owner,
        results_topic=s.topic_results,
        max_in_flight=s.worker_max_in_flight,
        tenant_cap=s.worker_tenant_max_in_flight,
        lease=timedelta(seconds=s.worker_job_lease_seconds),
        default_policy=Policy(s.qa_glossary_policy),
        max_attempts=s.worker_job_max_attempts,
    )


def _intake_config(s: Settings) -> IntakeConfig:
    return IntakeConfig(
        results_topic=s.topic_results,
        dlq_topic=s.topic_dlq,
        max_bytes=s.request_max_bytes,
        max_chars=s.request_max_chars,
        max_backlog=s.worker_max_backlog,
    )


def _accepted(wake: Callable[[], None], kick: Callable[[], None]) -> Callable[[Accepted], None]:
    """New jobs wake the executor; dead letters and republished results need the relay."""

    def call(accepted: Accepted) -> None:
        wake()
        if accepted.events:
            kick()

    return call
