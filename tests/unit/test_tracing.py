"""service/tracing.py and its wiring in bootstrap: off unless an OTEL_* setting asks, the W3C
context passed through unchanged while off, spans nested and failed without messages while on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from pydantic import ValidationError

from service import bootstrap, tracing
from service.bootstrap import traces
from service.config import Settings
from service.zai import ZaiRateLimited
from tests.support.tracing import (
    PRODUCER_SPAN,
    TRACE_ID,
    TRACEPARENT,
    hex_span,
    hex_trace,
    parent_of,
    recording,
    span_id_of,
)


def settings(**fields: Any) -> Settings:
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"traceparent": TRACEPARENT}, {"traceparent": TRACEPARENT}),
        (
            {"traceparent": TRACEPARENT, "tracestate": "v=1", "ce_id": "x"},
            {"traceparent": TRACEPARENT, "tracestate": "v=1"},
        ),
        ({"traceparent": TRACEPARENT.upper()}, {"traceparent": TRACEPARENT}),
        ({}, {}),
        ({"traceparent": "garbage"}, {}),
        ({"traceparent": "ff" + TRACEPARENT[2:]}, {}),  # version ff is invalid
        ({"traceparent": f"00-{'0' * 32}-b7ad6b7169203331-01"}, {}),  # all-zero trace id
        ({"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"}, {}),  # all-zero parent id
        ({"tracestate": "v=1"}, {}),
    ],
)
def test_passthrough_keeps_only_a_well_formed_w3c_context(
    headers: dict[str, str], expected: dict[str, str]
) -> None:
    assert tracing.passthrough(headers) == expected


def test_while_off_nothing_is_recorded_and_the_incoming_context_travels_on() -> None:
    assert not tracing.enabled()
    with tracing.span("job", parent={"traceparent": TRACEPARENT}) as span:
        assert span is None
        assert tracing.outgoing({"traceparent": TRACEPARENT}) == {"traceparent": TRACEPARENT}
        tracing.annotate({"a": 1})  # no-op, no error
    assert tracing.start("intake", parent={}) is None
    assert tracing.carrier_of(None, {"traceparent": TRACEPARENT}) == {"traceparent": TRACEPARENT}
    assert tracing.carrier_of(None) == {}


def test_spans_continue_the_incoming_trace_and_nest() -> None:
    with recording() as exporter:
        intake = tracing.start("intake", parent={"traceparent": TRACEPARENT})
        handed = tracing.carrier_of(intake)
        tracing.finish(intake)
        with tracing.span("job", parent=handed), tracing.span("language"):
            sent = tracing.outgoing({})
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert {hex_trace(s) for s in spans.values()} == {TRACE_ID}
    assert parent_of(spans["intake"]) == PRODUCER_SPAN
    assert parent_of(spans["job"]) == hex_span(spans["intake"])
    assert parent_of(spans["language"]) == hex_span(spans["job"])
    assert span_id_of(sent["traceparent"]) == hex_span(spans["language"])
    assert not tracing.enabled()


UNSAMPLED = TRACEPARENT[:-2] + "00"


def test_by_default_5_percent_of_new_traces_are_recorded_and_a_producers_choice_is_kept() -> None:
    built: list[int] = []

    def attributes() -> tracing.Attributes:
        built.append(1)
        return {"zai_l10n.job_id": "j"}

    with recording(sampler="parentbased_traceidratio") as exporter:
        for _ in range(4000):  # new traces: about 200 recorded (trace ids are random)
            with tracing.span("job", parent={}, attributes=attributes):
                pass
        roots = len(exporter.get_finished_spans())
        exporter.clear()
        with tracing.span("sampled", parent={"traceparent": TRACEPARENT}):
            pass
        with tracing.span("unsampled", parent={"traceparent": UNSAMPLED}) as span:
            assert not tracing.recording(span)
            with tracing.span("inside"):
                sent = tracing.outgoing({})
        incoming = {"traceparent": UNSAMPLED, "tracestate": "producer=1"}
        assert tracing.start("publish", parent=incoming) is None  # nothing to make
        assert tracing.carrier_of(None, incoming) == incoming  # the context travels on
        with tracing.span("job", parent=incoming):
            assert tracing.outgoing({}) == incoming
        names = [s.name for s in exporter.get_finished_spans()]
    assert 120 <= roots <= 280, roots
    assert len(built) == roots  # attributes are built for recorded spans only
    assert names == ["sampled"]
    assert sent == {"traceparent": UNSAMPLED}  # the decision travels on with the events


def test_the_sampler_follows_the_standard_variables() -> None:
    always = bootstrap.trace_sampler(settings(otel_traces_sampler="always_off"))
    assert always.get_description() == "AlwaysOffSampler"
    ratio = bootstrap.trace_sampler(settings(otel_traces_sampler_arg=0.25))
    assert "TraceIdRatioBased{0.25}" in ratio.get_description()
    assert ratio.get_description().startswith("ParentBased")
    with pytest.raises(ValidationError, match="OTEL_TRACES_SAMPLER"):
        settings(otel_traces_sampler="sometimes")


def test_an_empty_carrier_starts_a_new_trace() -> None:
    with recording() as exporter, tracing.span("outer"), tracing.span("root", parent={}):
        pass
    root = next(s for s in exporter.get_finished_spans() if s.name == "root")
    assert root.parent is None


def test_a_failed_span_carries_its_error_code_and_never_the_message() -> None:
    secret_text = "the customer's confidential sentence"
    with recording() as exporter, pytest.raises(ZaiRateLimited), tracing.span("zai agents"):
        raise ZaiRateLimited(secret_text, status=429, code="1302")
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "zai.rate_limited"
    assert span.status.description == "zai.rate_limited"
    assert span.events == ()  # no exception event: it would carry the message
    assert secret_text not in repr(span.to_json())


def test_tracing_is_off_without_otel_settings() -> None:
    assert settings().trace_exporters == []
    assert bootstrap.configure_tracing(settings(), "zai-l10n-worker") is None
    assert not tracing.enabled()


@pytest.mark.parametrize(
    ("fields", "exporters"),
    [
        ({"otel_exporter_otlp_endpoint": "http://collector:4318"}, ["otlp"]),
        ({"otel_exporter_otlp_traces_endpoint": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"otel_traces_exporter": "console"}, ["console"]),
        ({"otel_traces_exporter": "otlp, console"}, ["otlp", "console"]),
        ({"otel_traces_exporter": "none", "otel_exporter_otlp_endpoint": "http://c"}, []),
        ({"otel_sdk_disabled": True, "otel_exporter_otlp_endpoint": "http://c"}, []),
    ],
)
def test_the_standard_variables_choose_the_exporters(
    fields: dict[str, Any], exporters: list[str]
) -> None:
    assert settings(**fields).trace_exporters == exporters


def test_an_unknown_exporter_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="OTEL_TRACES_EXPORTER: zipkin"):
        settings(otel_traces_exporter="zipkin")


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector stand-in: remembers each export's path and headers."""

    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("field", "suffix", "path"),
    [
        ("otel_exporter_otlp_endpoint", "/", "/v1/traces"),
        ("otel_exporter_otlp_traces_endpoint", "/custom/traces", "/custom/traces"),
    ],
)
def test_spans_reach_an_otlp_collector_with_the_secret_headers(
    collector: str, field: str, suffix: str, path: str
) -> None:
    s = settings(
        **{field: collector + suffix},
        otel_exporter_otlp_headers="authorization=Bearer%20t0ken,x-tenant=ops",
        otel_service_name="l10n-test",
        otel_traces_sampler="always_on",
    )
    provider = bootstrap.configure_tracing(s, "zai-l10n-worker")
    try:
        with tracing.span("job"):
            pass
    finally:
        bootstrap.shutdown_tracing(provider)  # flushes the batch
    ((got_path, headers),) = _Collector.seen
    assert got_path == path
    assert headers["authorization"] == "Bearer t0ken" and headers["x-tenant"] == "ops"
    assert headers["content-type"] == "application/x-protobuf"


def test_the_console_exporter_is_chosen_by_name() -> None:
    assert isinstance(traces._exporter("console", settings()), ConsoleSpanExporter)


def test_a_configured_provider_names_the_service_and_is_shut_down() -> None:
    s = settings(otel_traces_exporter="console", otel_service_name="l10n-eu")
    provider = bootstrap.configure_tracing(s, "zai-l10n-worker")
    try:
        assert provider is not None and tracing.enabled()
        assert provider.resource.attributes["service.name"] == "l10n-eu"
    finally:
        bootstrap.shutdown_tracing(provider)
    assert not tracing.enabled()
