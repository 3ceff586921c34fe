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

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport, HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.util.re import parse_env_headers
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service import tracing
from service.auth.credentials import CredentialCipher
from service.config import KafkaSaslMechanism, KafkaSecurityProtocol, Settings
from service.glossary.cache_policy import CachePolicy
from service.kafka.consumer import KafkaIntake
from service.kafka.relay import OutboxRelay
from service.l10n.compliance import Policy
from service.metrics import Metrics, TenantLabels, child
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
from service.store.db import create_engine, session_factory
from service.store.driver import Database, open_database
from service.store.glossaries import SqlGlossaries
from service.store.glossary_files import SqlGlossaryFiles
from service.store.jobs import SqlJobStore
from service.store.memory import SqlMemory
from service.store.outbox import Marks, SqlOutbox
from service.store.signing import SqlSigningSecrets
from service.store.tenants import SqlTenants
from service.store.writes import WriteBatch
from service.zai import ZaiClient
from service.zai.retry import RetryPolicy
from service.zai.transport import AiohttpTransport
from service.zai.truto import TrutoGateway

# Any non-empty key passes the simulator when it runs without --api-key.
SIMULATOR_KEY = "simulator.local-key"


# --- traces --------------------------------------------------------------------------------


def configure_tracing(
    settings: Settings, service_name: str, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Tracing on when an OTEL_* setting asks for it (or a test hands an exporter over), off
    otherwise. The provider's resource and sampler follow the SDK's own OTEL_* variables."""
    exporters = (
        [exporter] if exporter else [_exporter(n, settings) for n in settings.trace_exporters]
    )
    if not exporters:
        tracing.uninstall()
        return None
    name = settings.otel_service_name or service_name
    resource = Resource.create({SERVICE_NAME: name})
    provider = TracerProvider(resource=resource, sampler=trace_sampler(settings))
    for e in exporters:
        # A test's exporter sees each span as it ends; a real one gets batches off the loop.
        provider.add_span_processor(SimpleSpanProcessor(e) if exporter else BatchSpanProcessor(e))
    tracing.install(provider, follows_parent=isinstance(provider.sampler, sampling.ParentBased))
    return provider


def trace_sampler(settings: Settings) -> Sampler:
    """OTEL_TRACES_SAMPLER with its argument, from the settings (whose default is not the
    SDK's: parent-based on a ratio of 0.05)."""
    name, ratio = settings.otel_traces_sampler.strip().lower(), settings.otel_traces_sampler_arg
    root: Sampler = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
    }[name.removeprefix("parentbased_")]
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export what is buffered, then tracing off."""
    tracing.uninstall()
    if provider is not None:
        provider.shutdown()


def _exporter(name: str, settings: Settings) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    headers = settings.otel_exporter_otlp_headers
    base = settings.otel_exporter_otlp_endpoint
    endpoint = settings.otel_exporter_otlp_traces_endpoint or (
        f"{base.rstrip('/')}/v1/traces" if base else None
    )
    return OTLPSpanExporter(
        endpoint=endpoint,
        headers=parse_env_headers(headers.get_secret_value(), liberal=True) if headers else None,
    )


def instrument_api(app: Any) -> None:
    """Server spans for the admin API's requests (W3C context from the caller honoured)."""
    provider = tracing.provider()
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, exclude_spans=["receive", "send"]
        )


def _traced_client(client: ZaiClient) -> ZaiClient:
    """HTTP client spans under each Z.ai attempt's span, while tracing is on."""
    provider = tracing.provider()
    if provider is not None:
        HTTPXClientInstrumentor.instrument_client(client.http, tracer_provider=provider)
    return client


def _traced_transport(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    provider = tracing.provider()
    if provider is None:
        return transport
    return AsyncOpenTelemetryTransport(transport, tracer_provider=provider)


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


def faststream_broker(settings: Settings, **options: Any) -> KafkaBroker:
    """A FastStream broker with the same servers and security as the aiokafka clients above
    (`zai-l10n translate` publishes and subscribes through it). Quiet: no per-message logs."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=_faststream_security(settings),
        client_id="zai-l10n-cli",
        logger=None,
        **options,
    )


def _faststream_security(settings: Settings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    tls = protocol in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL)
    context = create_ssl_context(cafile=settings.kafka_ssl_cafile) if tls else None
    if protocol in (KafkaSecurityProtocol.PLAINTEXT, KafkaSecurityProtocol.SSL):
        return BaseSecurity(ssl_context=context) if tls else None
    assert settings.kafka_sasl_password is not None  # checked by the settings validator
    kind = {
        KafkaSaslMechanism.PLAIN: SASLPlaintext,
        KafkaSaslMechanism.SCRAM_SHA_256: SASLScram256,
        KafkaSaslMechanism.SCRAM_SHA_512: SASLScram512,
    }[settings.kafka_sasl_mechanism]
    return kind(
        settings.kafka_sasl_username or "",
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=tls,
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


def build_database(settings: Settings, *, max_connections: int = 10) -> Database:
    """The hot paths' driver (service.store.driver) on the same database as the engine; a
    process that only relays (the API) needs few PostgreSQL connections."""
    return open_database(settings.database_url, max_connections=max_connections)


def outbox_relay(settings: Settings, db: Database, *, marks: Marks | None = None) -> OutboxRelay:
    claim = timedelta(seconds=settings.outbox_claim_seconds)
    outbox = SqlOutbox(db, claim=claim, marks=marks)
    return OutboxRelay(outbox, lambda: kafka_producer(settings))


# --- Z.ai ----------------------------------------------------------------------------------


def _client_options(settings: Settings, metrics: Metrics | None = None) -> dict[str, Any]:
    """Timeouts, concurrency, retries and polling: the same for direct and Truto clients;
    each HTTP exchange counted in `metrics` when given."""
    return {
        "on_attempt": _attempt_counter(metrics) if metrics is not None else None,
        "connect_timeout": settings.zai_connect_timeout,
        "read_timeout": settings.zai_read_timeout,
        "max_concurrency": settings.zai_max_concurrency,
        "retry": RetryPolicy(
            max_retries=settings.zai_max_retries,
            base=settings.zai_backoff_base,
            max=settings.zai_backoff_max,
        ),
        "async_deadline": settings.zai_async_deadline,
        "tokenizer_model": settings.zai_tokenizer_model,
    }


def _attempt_counter(metrics: Metrics) -> Callable[[str, str], None]:
    def count(route: str, status: str) -> None:
        child(metrics.upstream_attempts, route, status).inc()

    return count


def zai_client(
    settings: Settings, api_key: SecretStr | str | None = None, metrics: Metrics | None = None
) -> ZaiClient:
    """A client for the configured region or explicit URLs; without a key, the simulator."""
    key = api_key or settings.zai_api_key or SIMULATOR_KEY
    agents, files = settings.zai_base_urls()
    options = _client_options(settings, metrics)
    return _traced_client(ZaiClient(key, agents_base_url=agents, files_base_url=files, **options))


def truto_gateway(settings: Settings) -> TrutoGateway | None:
    """The process's Truto gateway (pool, routes, budgets); None without TRUTO_API_TOKEN."""
    if settings.truto_api_token is None:
        return None
    return TrutoGateway(
        settings.truto_api_token,
        settings.truto_base_url,
        resources={str(op): value for op, value in settings.truto_resources.items()},
        account_limit=settings.truto_account_rate_limit,
        token_limit=settings.truto_token_rate_limit,
        period=settings.truto_rate_period,
        transport=_traced_transport(AiohttpTransport(httpx.Limits())),  # as ZaiClient does
    )


def tenants(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], metrics: Metrics | None = None
) -> SqlTenants:
    default_key = settings.zai_api_key or SecretStr(SIMULATOR_KEY)
    gateway = truto_gateway(settings)
    return SqlTenants(
        sessions,
        CredentialCipher(settings.credentials_key),
        default_key,
        lambda key: zai_client(settings, key, metrics),
        make_truto_client=(
            (lambda account: gateway.client(account, **_client_options(settings, metrics)))
            if gateway
            else None
        ),
        close_truto=gateway.aclose if gateway else None,
    )


# --- the worker ----------------------------------------------------------------------------


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
