"""Traces: the one module of the service that uses OpenTelemetry's API.

Everything else, the pure core included, starts spans and moves trace context through the
helpers below, so no other module depends on OpenTelemetry and tracing costs one check of a
module variable while it is off. `service.bootstrap.configure_tracing` (which alone knows the
SDK, the OTLP exporter and the instrumentations) calls `install` when an `OTEL_*` variable asks
for traces; until then every helper is a no-op, yet a request's W3C context still travels from
its message to its result events unchanged (`passthrough`), so a producer's trace is never cut.

Trace context travels as a *carrier*: the W3C Trace Context headers `traceparent` and
`tracestate`, as a dict of strings, on Kafka messages (the CloudEvents distributed-tracing
extension), in the job row across the database hop, and in outbox rows.

    with tracing.span("job", parent=job.trace, attributes={"zai_l10n.job_id": job.id}):
        ...                                   # spans started inside nest under "job"
        event_trace = tracing.outgoing(job.trace)   # the carrier for what this work sends

Why our own switch rather than OpenTelemetry's global tracer provider: that one can be set once
per process, and the tests install an in-memory exporter for one test at a time. Spans record
no exception messages (they may quote a text or an upstream reply): a failed span carries its
status and `error.type` (a ZaiError's `error_code`, else the exception's class name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Carrier = Mapping[str, str]
Attributes = Mapping[str, str | int | float | bool]
#: Attributes, or what builds them: called only for a span that is recorded (sampled), so an
#: unsampled request pays for no attribute it would throw away.
LazyAttributes = Attributes | Callable[[], Attributes]

FIELDS = ("traceparent", "tracestate")
# W3C Trace Context, version 00 (the only one defined): version-trace id-parent id-flags.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_IDS = ("0" * 32, "0" * 16)
_PROPAGATOR = TraceContextTextMapPropagator()
_OFF: AbstractContextManager[None] = nullcontext()
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_follows_parent = False

__all__ = [
    "FIELDS",
    "Attributes",
    "Carrier",
    "LazyAttributes",
    "Span",
    "SpanKind",
    "annotate",
    "carrier_of",
    "current",
    "enabled",
    "finish",
    "finishing",
    "install",
    "outgoing",
    "passthrough",
    "provider",
    "recording",
    "span",
    "start",
    "tag",
    "uninstall",
]


def install(provider: TracerProvider, *, follows_parent: bool = False) -> None:
    """Tracing on: spans go to `provider` (its processors and exporters). `follows_parent`:
    its sampler records no child of an unsampled parent (a parent-based one), so such spans
    are not made at all, which is most of what tracing cost at the default ratio (0.45 ms of
    0.56 per request, docs/benchmarks.md, "tracing")."""
    global _tracer, _provider, _follows_parent
    _tracer, _provider = provider.get_tracer("zai-l10n"), provider
    _follows_parent = follows_parent


def uninstall() -> None:
    global _tracer, _provider, _follows_parent
    _tracer = _provider = None
    _follows_parent = False


def provider() -> TracerProvider | None:
    """The installed provider, for the instrumentations bootstrap wires (httpx, FastAPI)."""
    return _provider


def enabled() -> bool:
    return _tracer is not None


# --- carriers ------------------------------------------------------------------------------


def passthrough(headers: Carrier) -> dict[str, str]:
    """The W3C fields of `headers` unchanged, if its `traceparent` is well formed; else none."""
    parent = headers.get("traceparent", "").strip().lower()
    if not _TRACEPARENT.fullmatch(parent) or parent[:2] == "ff":
        return {}
    if parent[3:35] == _ZERO_IDS[0] or parent[36:52] == _ZERO_IDS[1]:
        return {}
    state = headers.get("tracestate")
    return {"traceparent": parent, "tracestate": state} if state else {"traceparent": parent}


def carrier_of(span: Span | None, incoming: Carrier | None = None) -> dict[str, str]:
    """The W3C headers naming `span` as the parent; for no span (tracing off), the incoming
    context unchanged."""
    if span is None:
        return passthrough(incoming) if incoming else {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def outgoing(incoming: Carrier) -> dict[str, str]:
    """The carrier for what the current work sends: the current span's while tracing is on,
    else the incoming context unchanged."""
    if _tracer is None:
        return passthrough(incoming)
    return carrier_of(trace.get_current_span()) or passthrough(incoming)


# --- spans ---------------------------------------------------------------------------------


def start(
    name: str,
    *,
    parent: Carrier | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: LazyAttributes | None = None,
) -> Span | None:
    """A span that is not made current, for work that ends elsewhere (a batch, a send); end
    it with `finish`. `parent`: a carrier (an empty one starts a new trace); None: the current
    span. None while tracing is off, or under an unsampled parent the sampler follows (the
    parent's context then travels on unchanged, as `carrier_of(None, incoming)` gives it)."""
    if _tracer is None:
        return None
    if _follows_parent and _unsampled(parent) is not None:
        return None
    context = _PROPAGATOR.extract(parent) if parent is not None else None
    started = _tracer.start_span(name, context=context, kind=kind, record_exception=False)
    _set(started, attributes)
    return started


def _set(span: Span, attributes: LazyAttributes | None) -> None:
    if attributes is not None and span.is_recording():
        span.set_attributes(attributes() if callable(attributes) else attributes)


def current() -> Span | None:
    """The current span (None while tracing is off)."""
    return trace.get_current_span() if _tracer is not None else None


def recording(span: Span | None) -> bool:
    """Whether `span` is recorded: tracing is on and the trace sampled."""
    return span is not None and span.is_recording()


def finish(span: Span | None, error: BaseException | None = None) -> None:
    if span is None:
        return
    if error is not None:
        _failed(span, error)
    span.end()


@contextmanager
def finishing(spans: Sequence[Span | None]) -> Iterator[None]:
    """Ends each of `spans` when the block ends, failed with its exception if it raised: the
    spans of a batch (intake, publish) that are not current while it runs."""
    try:
        yield
    except BaseException as exc:
        for span in spans:
            finish(span, exc)
        raise
    for span in spans:
        finish(span)


def span(
    name: str,
    *,
    parent: Carrier | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: LazyAttributes | None = None,
) -> AbstractContextManager[Span | None]:
    """A span made current for the block (spans started inside nest under it); yields None
    while tracing is off. An exception leaving the block marks the span failed."""
    if _tracer is None:
        return _OFF
    if _follows_parent and (unsampled := _unsampled(parent)) is not None:
        # Not recorded: the unsampled parent stays (or becomes) current, so what runs inside
        # and what it sends carry that context, as they would under a non-recording span.
        if parent is None:
            return nullcontext(unsampled)
        return trace.use_span(unsampled, record_exception=False, set_status_on_exception=False)
    return _current(_tracer, name, parent, kind, attributes)


def _unsampled(parent: Carrier | None) -> Span | None:
    """The parent (`parent`'s context, or the current span) if it is a valid, unsampled one."""
    if parent is None:
        current = trace.get_current_span()
        ctx = current.get_span_context()
        return current if ctx.is_valid and not ctx.trace_flags.sampled else None
    known = passthrough(parent)  # a well-formed traceparent, or nothing
    header = known.get("traceparent")
    if header is None or int(header[53:55], 16) & 1:  # none, or sampled
        return None
    state = known.get("tracestate")
    return trace.NonRecordingSpan(
        trace.SpanContext(
            int(header[3:35], 16),
            int(header[36:52], 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(0),
            trace_state=trace.TraceState.from_header([state]) if state else None,
        )
    )


@contextmanager
def _current(
    tracer: Tracer,
    name: str,
    parent: Carrier | None,
    kind: SpanKind,
    attributes: LazyAttributes | None,
) -> Iterator[Span]:
    context = _PROPAGATOR.extract(parent) if parent is not None else None
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        _set(current, attributes)
        try:
            yield current
        except BaseException as exc:
            _failed(current, exc)
            raise


def annotate(attributes: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
    """Set attributes on the current span (None values are left out); no-op while off or
    for an unsampled span."""
    if _tracer is not None:
        tag(trace.get_current_span(), attributes)


def tag(span: Span | None, attributes: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
    """Set attributes on `span` (None values are left out); no-op for no span, or one that is
    not recorded (`attributes` may be a function: then it is not even called)."""
    if span is not None and span.is_recording():
        given = attributes() if callable(attributes) else attributes
        span.set_attributes({k: v for k, v in given.items() if v is not None})


def _failed(span: Span, error: BaseException) -> None:
    kind = getattr(error, "error_code", None) or type(error).__name__
    span.set_attribute("error.type", str(kind))
    span.set_status(Status(StatusCode.ERROR, str(kind)))
