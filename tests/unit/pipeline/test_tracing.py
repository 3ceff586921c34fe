"""Traces through the core over fakes: intake → job → language → Z.ai attempt, the events'
trace context, and what travels while tracing is off."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from service.pipeline.jobs.intake import Intake, IntakeConfig, Message
from service.zai import ZaiConnectionError, ZaiRateLimited, ZaiServerError, ZaiTimeout
from service.zai.errors import ZaiBadRequest
from service.zai.http import attempt_status
from tests.support.tracing import (
    PRODUCER_SPAN,
    TRACE_ID,
    TRACEPARENT,
    children,
    hex_span,
    hex_trace,
    named,
    parent_of,
    recording,
    span_id_of,
    trace_id_of,
)
from tests.unit.pipeline.fakes import Rig, ScriptedZai, request, rig, zai_error
from tests.unit.pipeline.test_executor import done, executor, running, until

SOURCE = "Your invoice is ready"


def message(offset: int, value: bytes, headers: dict[str, str]) -> Message:
    return Message("requests", 0, offset, b"acme", headers, value)


async def translate(r: Rig, headers: dict[str, str], **fields: Any) -> None:
    body = request("t1", text=SOURCE, **fields).model_dump_json().encode()
    intake = Intake(r.store, r.metrics, IntakeConfig("results", "dlq"), clock=lambda: 0.0)
    await intake.accept([message(0, body, headers)])
    async with running(executor(r)):
        await until(lambda: done(r, "t1"))


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_one_request_gives_one_trace_nested_intake_job_language_attempt() -> None:
    r = rig(ScriptedZai(faults={"fr": [zai_error(429, "1302"), None]}))
    with recording() as exporter:
        await translate(r, {"traceparent": TRACEPARENT}, target_langs=["de", "fr"])
    spans = exporter.get_finished_spans()
    assert {hex_trace(s) for s in spans} == {TRACE_ID}
    (intake,) = named(spans, "intake")
    (job,) = named(spans, "job")
    assert parent_of(intake) == PRODUCER_SPAN
    assert attrs(intake)["zai_l10n.request_id"] == "t1"
    assert parent_of(job) == hex_span(intake)
    assert attrs(job)["zai_l10n.tenant_id"] == "acme" and attrs(job)["zai_l10n.attempt"] == 1
    languages = {attrs(s)["zai_l10n.target_lang"]: s for s in children(spans, job)}
    assert set(languages) == {"de", "fr"}
    de_calls = [attrs(s) for s in children(spans, languages["de"])]
    assert de_calls == [
        {
            "zai.route": "agents",
            "zai.attempt": 1,
            "zai.request_id": de_calls[0]["zai.request_id"],
            "http.response.status_code": 200,
        }
    ]
    fr_calls = sorted(children(spans, languages["fr"]), key=lambda s: attrs(s)["zai.attempt"])
    assert [(s.name, attrs(s)["http.response.status_code"]) for s in fr_calls] == [
        ("zai agents", 429),
        ("zai agents", 200),
    ]
    assert attrs(fr_calls[0])["zai.code"] == "1302"
    assert attrs(fr_calls[0])["error.type"] == "zai.rate_limited"
    # No text (source or translation) and no key in any span.
    dumped = "".join(s.to_json() for s in spans)
    assert SOURCE not in dumped and "k3y.s3cret" not in dumped
    # Both result events carry the job span's context.
    (event_trace,) = {e.trace["traceparent"] for e in r.store.outbox}
    assert trace_id_of(event_trace) == TRACE_ID and span_id_of(event_trace) == hex_span(job)


async def test_a_failed_language_marks_its_span() -> None:
    r = rig(ScriptedZai(faults={"de": [zai_error(400, "1214", "bad")]}))
    with recording() as exporter:
        await translate(r, {})
    (language,) = named(exporter.get_finished_spans(), "language")
    assert attrs(language)["zai_l10n.outcome"] == "translation.failed"
    assert attrs(language)["error.type"] == "zai.bad_request"


async def test_without_a_traceparent_the_intake_starts_the_trace() -> None:
    r = rig()
    with recording() as exporter:
        await translate(r, {})
    spans = exporter.get_finished_spans()
    (intake,) = named(spans, "intake")
    assert intake.parent is None and len({hex_trace(s) for s in spans}) == 1
    (event,) = r.store.outbox
    assert trace_id_of(event.trace["traceparent"]) == hex_trace(intake)


async def test_while_off_the_events_carry_the_requests_own_context() -> None:
    r = rig()
    await translate(r, {"traceparent": TRACEPARENT, "tracestate": "vendor=1"})
    (event,) = r.store.outbox
    assert event.trace == {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}


async def test_a_dead_letter_carries_the_trace_context() -> None:
    r = rig()
    intake = Intake(r.store, r.metrics, IntakeConfig("results", "dlq"), clock=lambda: 0.0)
    await intake.accept([message(0, b"{not json", {"traceparent": TRACEPARENT})])
    (off,) = r.store.outbox
    assert off.trace == {"traceparent": TRACEPARENT}
    with recording() as exporter:
        await intake.accept([message(1, b"{not json", {"traceparent": TRACEPARENT})])
    (span,) = exporter.get_finished_spans()
    assert attrs(span)["zai_l10n.dead_letter_reason"] == "bad_json"
    assert span_id_of(r.store.outbox[1].trace["traceparent"]) == hex_span(span)


def test_attempt_statuses_are_a_small_fixed_set() -> None:
    assert attempt_status(ZaiRateLimited("x", status=429)) == "429"
    assert attempt_status(ZaiRateLimited("x", code="1302")) == "429"
    assert attempt_status(ZaiServerError("x", status=503)) == "5xx"
    assert attempt_status(ZaiBadRequest("x", status=404)) == "4xx"
    assert attempt_status(ZaiTimeout("x")) == "timeout"
    assert attempt_status(ZaiConnectionError("x")) == "connection"
    assert attempt_status(ZaiBadRequest("x")) == "other"


async def test_a_finished_job_observes_queue_time_end_to_end_latency_and_tenant_usage() -> None:
    r = rig()
    await translate(r, {}, target_langs=["de", "fr"])
    value = r.metrics.registry.get_sample_value
    assert value("zai_l10n_queue_seconds_count") == 1
    assert value("zai_l10n_end_to_end_seconds_count", {"outcome": "translation.completed"}) == 2
    assert value("zai_l10n_memory_lookups_total") == 2
    assert value("zai_l10n_tenant_upstream_calls_total", {"tenant": "acme"}) == 2
    assert value("zai_l10n_tenant_tokens_total", {"tenant": "acme", "kind": "prompt"}) == 6
    assert value("zai_l10n_tenant_characters_total", {"tenant": "acme"}) == 2 * len(SOURCE)
