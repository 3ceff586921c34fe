"""All settings of the service, read from the environment (and `.env`) in one place."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ZAI_INTERNATIONAL = ("https://api.z.ai/api/v1", "https://api.z.ai/api/paas/v4")
ZAI_MAINLAND = ("https://open.bigmodel.cn/api/v1", "https://open.bigmodel.cn/api/paas/v4")


#: The Z.ai calls whose Truto proxy resource TRUTO_RESOURCES may name (service.zai.truto.tools).
TrutoOperation = Literal[
    "agents", "async_result", "upload", "list_files", "delete_file", "tokenizer"
]


class ZaiRegion(StrEnum):
    international = "international"
    mainland = "mainland"


class KafkaSecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class Settings(BaseSettings):
    """Every knob of zai-l10n. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_group_id: str = "zai-l10n-worker"
    topic_requests: str = "translation.requests"
    topic_results: str = "translation.results"
    topic_dlq: str = "translation.requests.dlq"
    topic_glossary_events: str = "glossary.events"
    topic_partitions: int = Field(default=6, ge=1)
    # Kafka security (aiokafka's names); the defaults are a plain, unauthenticated connection.
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: KafkaSaslMechanism = KafkaSaslMechanism.PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # PEM bundle of the CA(s) to trust for SSL/SASL_SSL; unset means the system's CAs.
    kafka_ssl_cafile: str | None = None

    # Storage
    database_url: str = "sqlite+aiosqlite:///./zai-l10n.db"
    # Migrate on start-up (handy for the embedded SQLite); Helm runs a migration Job instead.
    database_auto_migrate: bool = True

    # Z.ai upstream
    zai_api_key: SecretStr | None = None
    zai_region: ZaiRegion = ZaiRegion.international
    zai_agents_base_url: str | None = None
    zai_files_base_url: str | None = None
    zai_connect_timeout: float = Field(default=5.0, gt=0)
    zai_read_timeout: float = Field(default=120.0, gt=0)
    zai_max_concurrency: int = Field(default=32, ge=1)
    zai_max_retries: int = Field(default=4, ge=0)
    zai_backoff_base: float = Field(default=0.5, gt=0)
    zai_backoff_max: float = Field(default=20.0, gt=0)
    zai_async_deadline: float = Field(default=300.0, gt=0)
    # Z.ai's tokenizer (token estimates: budgets, splitting long texts; docs/usage.md)
    zai_tokenizer_model: str = Field(default="glm-4.6", min_length=1)
    zai_tokenizer_timeout: float = Field(default=5.0, gt=0)  # one try, then a character estimate
    zai_tokenizer_cooldown: float = Field(default=30.0, ge=0)  # no tokenizer call after a failure
    token_estimate_cache_size: int = Field(default=10_000, ge=1)  # texts whose count is kept
    token_estimate_chars_per_token: float = Field(default=3.0, gt=0)  # without the tokenizer

    # Truto: tenants whose own Z.ai account is linked through Truto (docs/truto.md). The API
    # token is the service's; no Z.ai key of such a tenant is ever held here.
    truto_api_token: SecretStr | None = None
    truto_base_url: str = "https://api.truto.one"
    # Proxy resource per operation (`resource` or `resource/method`); unset ones are read from
    # each account's tools on first use.
    truto_resources: dict[TrutoOperation, str] = Field(default_factory=dict)
    truto_account_rate_limit: int = Field(default=50, ge=1)  # calls per period per account
    truto_token_rate_limit: int = Field(default=500, ge=1)  # calls per period per API token
    truto_rate_period: float = Field(default=10.0, gt=0)  # seconds

    # Simulator (used when no ZAI_API_KEY is set)
    sim_host: str = "127.0.0.1"
    sim_port: int = 8765

    # Admin API
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_admin_token: SecretStr | None = None
    api_tenant_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    # The console's cookies carry `Secure`: browsers send them over HTTPS (and to localhost) only.
    console_cookie_secure: bool = True
    glossary_max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    glossary_max_entries: int = Field(default=50_000, ge=1)
    glossary_max_entry_bytes: int = Field(default=2_000, ge=64)
    # Fernet key(s), comma-separated, newest first: encrypts tenants' own Z.ai keys at rest.
    credentials_key: SecretStr | None = None

    # Worker
    worker_http_host: str = "127.0.0.1"
    worker_http_port: int = 8081  # /livez, /readyz, /metrics, /asyncapi
    worker_max_in_flight: int = Field(default=64, ge=1)
    worker_tenant_max_in_flight: int = Field(default=48, ge=1)
    worker_max_backlog: int = Field(default=5000, ge=1)  # intake pauses at this many open jobs
    worker_batch_size: int = Field(default=200, ge=1)
    worker_job_lease_seconds: float = Field(default=60.0, gt=1)
    worker_job_max_attempts: int = Field(default=5, ge=1)  # crashes of a job before it fails
    retention_jobs_days: float = Field(default=30.0, gt=0)
    retention_memory_days: float = Field(default=180.0, gt=0)
    retention_outbox_hours: float = Field(default=24.0, gt=0)
    outbox_claim_seconds: float = Field(default=60.0, gt=0)
    translation_chunk_chars: int = Field(default=3000, ge=100)
    translation_chunk_tokens: int = Field(default=1500, ge=50)  # longer texts split by tokens
    translation_packing: bool = True  # many short segments per agent call
    # Packed calls whose markers were lost in a row, per tenant and language, before packing
    # pauses there for translation_packing_pause_seconds.
    translation_packing_pause_after: int = Field(default=3, ge=1)
    translation_packing_pause_seconds: float = Field(default=300.0, ge=0)
    # Upstream calls at once for one (job, language); the per-key limit still applies on top.
    translation_call_concurrency: int = Field(default=8, ge=1)
    # What a glossary problem (miss, changed do-not-translate term, forbidden term) does when a
    # request does not say: report it, retry once then report, or retry once then fail.
    qa_glossary_policy: Literal["report", "retry", "fail"] = "report"
    # Monthly token budgets (docs/usage.md): tokens reserved per target language for each
    # token of source text, and how often the worker refreshes the budget gauges.
    budget_tokens_per_source_token: float = Field(default=2.5, gt=0)
    budget_metrics_interval: float = Field(default=60.0, gt=0)
    worker_graceful_timeout: float = Field(default=30.0, gt=0)
    request_max_bytes: int = Field(default=1_000_000, ge=1024)
    request_max_chars: int = Field(default=200_000, ge=1)
    # The tenants that may publish requests; empty: any well-formed tenant_id (docs/events.md).
    request_tenants: frozenset[str] = frozenset()
    # Signed requests (docs/events.md): how far a signature's time may be from the broker's
    # LogAppendTime, or from the worker's clock on a CreateTime topic; and how long a worker
    # trusts what it read of a tenant's signing secret.
    request_signature_tolerance: float = Field(default=300.0, gt=0)
    request_signing_cache_seconds: float = Field(default=10.0, ge=0)

    log_level: str = "INFO"

    # Traces (OpenTelemetry; docs/operations.md): off unless one of the standard variables below
    # asks for them. The SDK reads the other OTEL_* variables itself (OTEL_TRACES_SAMPLER,
    # OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*, OTEL_EXPORTER_OTLP_TIMEOUT, ...).
    otel_sdk_disabled: bool = False
    # Comma-separated: otlp (OTLP over HTTP/protobuf), console, none.
    otel_traces_exporter: str | None = None
    otel_exporter_otlp_endpoint: str | None = None  # the collector; /v1/traces is appended
    otel_exporter_otlp_traces_endpoint: str | None = None  # the full traces URL, used as is
    # `key=value,...` sent with every export (a collector's token, say): a secret.
    otel_exporter_otlp_headers: SecretStr | None = None
    # Unset: zai-l10n-worker or zai-l10n-api.
    otel_service_name: str | None = None
    # Which traces are recorded, by the SDK's names: parent-based by default, so a producer's
    # sampled trace is always continued, and 5 % of the others (OTEL_TRACES_SAMPLER_ARG)
    # is kept: what tracing costs is paid for the recorded share (docs/operations.md).
    otel_traces_sampler: str = "parentbased_traceidratio"
    otel_traces_sampler_arg: float = Field(default=0.05, ge=0.0, le=1.0)

    # Per-tenant usage metrics: these tenants always get their own `tenant` label, and so do
    # the first METRICS_TENANT_SLOTS others a process meets; the rest count as `_other`.
    metrics_tenants: list[str] = Field(default_factory=list)
    metrics_tenant_slots: int = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and (
            not self.kafka_sasl_username or self.kafka_sasl_password is None
        ):
            raise ValueError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when "
                f"KAFKA_SECURITY_PROTOCOL is {self.kafka_security_protocol}"
            )
        return self

    @property
    def trace_exporters(self) -> list[str]:
        """The trace exporters asked for: none unless an OTEL_* variable says so."""
        if self.otel_sdk_disabled:
            return []
        names = [n.strip().lower() for n in (self.otel_traces_exporter or "").split(",")]
        names = [n for n in names if n]
        endpoint = self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint
        if not names and endpoint:
            names = ["otlp"]
        return [n for n in dict.fromkeys(names) if n != "none"]

    @model_validator(mode="after")
    def _known_sampler(self) -> Settings:
        if self.otel_traces_sampler.strip().lower() not in TRACE_SAMPLERS:
            raise ValueError(
                f"OTEL_TRACES_SAMPLER: {self.otel_traces_sampler!r} is not one of "
                + ", ".join(TRACE_SAMPLERS)
            )
        return self

    @model_validator(mode="after")
    def _known_trace_exporters(self) -> Settings:
        unknown = set(self.trace_exporters) - {"otlp", "console"}
        if unknown:
            raise ValueError(
                f"OTEL_TRACES_EXPORTER: {', '.join(sorted(unknown))} is not one of otlp, "
                "console, none"
            )
        return self

    @property
    def uses_simulator(self) -> bool:
        return self.zai_api_key is None

    def zai_base_urls(self) -> tuple[str, str]:
        """(agents base, files base): explicit URLs win, then the simulator, then the region."""
        if self.uses_simulator:
            root = f"http://{self.sim_host}:{self.sim_port}/api"
            default = (f"{root}/v1", f"{root}/paas/v4")
        else:
            preset = ZAI_MAINLAND if self.zai_region is ZaiRegion.mainland else ZAI_INTERNATIONAL
            default = preset
        return (self.zai_agents_base_url or default[0], self.zai_files_base_url or default[1])


#: OTEL_TRACES_SAMPLER values (the OpenTelemetry SDK's names; the ratio ones read the argument).
TRACE_SAMPLERS = (
    "parentbased_traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "traceidratio",
    "always_on",
    "always_off",
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
