"""Traces: the OpenTelemetry SDK, its exporters and instrumentations (the only module that
imports them: tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import Any

import httpx
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

from service import tracing
from service.config import Settings
from service.zai import ZaiClient

# Any non-empty key passes the simulator when it runs without --api-key.


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


def traced_client(client: ZaiClient) -> ZaiClient:
    """HTTP client spans under each Z.ai attempt's span, while tracing is on."""
    provider = tracing.provider()
    if provider is not None:
        HTTPXClientInstrumentor.instrument_client(client.http, tracer_provider=provider)
    return client


def traced_transport(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    provider = tracing.provider()
    if provider is None:
        return transport
    return AsyncOpenTelemetryTransport(transport, tracer_provider=provider)
