"""The worker's parts: the job store, the executor and its run dependencies, the intake."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher
from service.bootstrap.database import build_database, build_engine, build_sessions, outbox_relay
from service.bootstrap.kafka import kafka_admin, request_consumer
from service.bootstrap.upstream import tenants
from service.config import Settings
from service.glossary.cache_policy import CachePolicy
from service.kafka.consumer import KafkaIntake
from service.kafka.relay import OutboxRelay
from service.l10n.compliance import Policy
from service.metrics import Metrics, TenantLabels
from service.pipeline.durable import Durable
from service.pipeline.jobs.budget import BudgetConfig, BudgetGate
from service.pipeline.jobs.executor import Executor, ExecutorConfig
from service.pipeline.jobs.intake import Intake, IntakeConfig
from service.pipeline.jobs.request_auth import AuthConfig, RequestAuth
from service.pipeline.ports import Accepted
from service.pipeline.translation.estimate import TokenEstimator
from service.pipeline.translation.glossary_files import UploadCache
from service.pipeline.translation.packing_breaker import PackingBreaker
from service.pipeline.translation.run import RunConfig, RunDeps
from service.store.budgets import SqlBudgets
from service.store.driver import Database
from service.store.glossaries import SqlGlossaries
from service.store.glossary_files import SqlGlossaryFiles
from service.store.jobs import SqlJobStore
from service.store.memory import SqlMemory
from service.store.signing import SqlSigningSecrets
from service.store.tenants import SqlTenants
from service.store.writes import WriteBatch

# Any non-empty key passes the simulator when it runs without --api-key.


@dataclass
class WorkerParts:
    owner: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    db: Database
    writes: WriteBatch
    metrics: Metrics
    tenants: SqlTenants
    budgets: SqlBudgets
    relay: OutboxRelay
    executor: Executor
    intake: KafkaIntake
    make_admin: Callable[[], AIOKafkaAdminClient]


def worker_metrics(settings: Settings) -> Metrics:
    labels = TenantLabels(settings.metrics_tenants, settings.metrics_tenant_slots)
    return Metrics(tenants=labels)


def worker_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_worker(settings: Settings, *, metrics: Metrics | None = None) -> WorkerParts:
    s, owner = settings, worker_owner()
    engine = build_engine(s)
    sessions = build_sessions(engine)
    db = build_database(s)
    metrics = metrics or worker_metrics(s)
    # Completions hand their events to this worker's relay (no query to find them), and the
    # relay's "sent" rides on the next completions' transaction.
    writes = WriteBatch(db, claim=timedelta(seconds=s.outbox_claim_seconds))
    relay, pool = outbox_relay(s, db, marks=writes), tenants(s, sessions, metrics)
    writes.hand_to(relay)
    store = SqlJobStore(db, writes)
    files = UploadCache(
        SqlGlossaryFiles(sessions),
        owner=owner,
        policy=CachePolicy(),
        on_upload=metrics.glossary_uploads.inc,
    )
    deps = _run_deps(s, store, SqlMemory(db, writes), files, metrics)
    budgets = SqlBudgets(sessions)
    gate = BudgetGate(
        budgets,
        deps.estimator,
        metrics,
        deps.durable,
        BudgetConfig(tokens_per_source_token=s.budget_tokens_per_source_token),
    )
    executor = Executor(
        deps, pool, SqlGlossaries(sessions), _executor_config(s, owner), budget=gate
    )
    intake = Intake(store, metrics, _intake_config(s), auth=request_auth(s, sessions))
    consumer = KafkaIntake(
        lambda: request_consumer(s),
        s.topic_requests,
        intake,
        metrics,
        batch_size=s.worker_batch_size,
        on_accepted=_accepted(executor.wake, relay.kick),
    )
    return WorkerParts(
        owner,
        engine,
        sessions,
        db,
        writes,
        metrics,
        pool,
        budgets,
        relay,
        executor,
        consumer,
        lambda: kafka_admin(s),
    )


def _run_deps(
    s: Settings, store: SqlJobStore, memory: SqlMemory, files: UploadCache, metrics: Metrics
) -> RunDeps:
    return RunDeps(
        store=store,
        memory=memory,
        files=files,
        metrics=metrics,
        durable=Durable(),
        config=RunConfig(
            chunk_chars=s.translation_chunk_chars,
            chunk_tokens=s.translation_chunk_tokens,
            packing=s.translation_packing,
            call_concurrency=s.translation_call_concurrency,
        ),
        packing=PackingBreaker(
            pause_after=s.translation_packing_pause_after,
            pause_seconds=s.translation_packing_pause_seconds,
        ),
        estimator=token_estimator(s, metrics),
    )


def token_estimator(s: Settings, metrics: Metrics) -> TokenEstimator:
    return TokenEstimator(
        cache_size=s.token_estimate_cache_size,
        chars_per_token=s.token_estimate_chars_per_token,
        cooldown=s.zai_tokenizer_cooldown,
        http_timeout=s.zai_tokenizer_timeout,
        on_estimate=lambda method: metrics.token_estimates.labels(method).inc(),
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
        tenants=s.request_tenants,
        max_backlog=s.worker_max_backlog,
    )


def request_auth(s: Settings, sessions: async_sessionmaker[AsyncSession]) -> RequestAuth:
    secrets = SqlSigningSecrets(sessions, CredentialCipher(s.credentials_key))
    config = AuthConfig(
        tolerance=s.request_signature_tolerance, cache_seconds=s.request_signing_cache_seconds
    )
    return RequestAuth(secrets, config)


def _accepted(wake: Callable[[], None], kick: Callable[[], None]) -> Callable[[Accepted], None]:
    """New jobs wake the executor; dead letters and republished results need the relay."""

    def call(accepted: Accepted) -> None:
        wake()
        if accepted.events:
            kick()

    return call
