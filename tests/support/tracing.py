"""Traces in tests: the service's own tracing set-up (bootstrap.configure_tracing) with an
in-memory exporter, and helpers to read the finished spans as a tree."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service import bootstrap
from service.config import Settings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PRODUCER_SPAN = "b7ad6b7169203331"


@contextmanager
def recording(
    service: str = "zai-l10n-test", sampler: str = "always_on"
) -> Iterator[InMemorySpanExporter]:
    """Tracing on, every finished span kept in memory; off again afterwards. Every trace is
    recorded unless `sampler` says otherwise (the service's default samples 5 %)."""
    exporter = InMemorySpanExporter()
    provider = bootstrap.configure_tracing(
        Settings(_env_file=None, otel_traces_sampler=sampler),  # type: ignore[call-arg]
        service,
        exporter=exporter,
    )
    try:
        yield exporter
    finally:
        bootstrap.shutdown_tracing(provider)


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def hex_span(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def parent_of(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent is not None else None


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if parent_of(s) == hex_span(parent)]


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def span_id_of(traceparent: str) -> str:
    return traceparent.split("-")[2]
