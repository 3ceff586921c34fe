"""Composition root: the one place where settings become engines, clients and components.

The worker (`service.worker.app`), the admin API (`service.api.app`), the CLI and the demo get
everything they run from here; nothing else builds an engine, a Kafka client or a Z.ai client.
One module per kind of part: `traces.py`, `database.py`, `kafka.py`, `upstream.py` (Z.ai and
Truto clients), `worker.py`; all re-exported here.
"""

from __future__ import annotations

from service.bootstrap.database import (
    build_database,
    build_engine,
    build_sessions,
    outbox_relay,
)
from service.bootstrap.kafka import (
    faststream_broker,
    kafka_admin,
    kafka_consumer,
    kafka_producer,
    kafka_security,
    request_consumer,
)
from service.bootstrap.traces import (
    configure_tracing,
    instrument_api,
    shutdown_tracing,
    trace_sampler,
)
from service.bootstrap.upstream import SIMULATOR_KEY, tenants, truto_gateway, zai_client
from service.bootstrap.worker import (
    WorkerParts,
    build_worker,
    request_auth,
    token_estimator,
    worker_metrics,
    worker_owner,
)

__all__ = [
    "SIMULATOR_KEY",
    "WorkerParts",
    "build_database",
    "build_engine",
    "build_sessions",
    "build_worker",
    "configure_tracing",
    "faststream_broker",
    "instrument_api",
    "kafka_admin",
    "kafka_consumer",
    "kafka_producer",
    "kafka_security",
    "outbox_relay",
    "request_auth",
    "request_consumer",
    "shutdown_tracing",
    "tenants",
    "token_estimator",
    "trace_sampler",
    "truto_gateway",
    "worker_metrics",
    "worker_owner",
    "zai_client",
]
