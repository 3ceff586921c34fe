"""Traces end to end on the real broker, a real database and the simulators over HTTP, recorded
by an in-memory span exporter: one request with a producer's `traceparent` gives one trace,
intake → job → language → Z.ai attempt → HTTP, and the publish of each result event, whose
Kafka headers carry that trace."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from service.api.app import create_app
from service.config import Settings
from service.sim.testing import SimulatorHandle, TrutoSimHandle
from service.worker.app import WorkerService
from tests.integration.test_truto_e2e import ACCOUNT, ZAI_KEY, connect_through_truto, truto_settings
from tests.support.pipeline import ROOT, request, running_worker, seed_glossary
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
from tests.support.worker import read

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
# The service's own sampler: the producer's sampled trace is continued whatever the ratio.
DEFAULT_SAMPLER = Settings.model_fields["otel_traces_sampler"].default


async def publish_traced(w: WorkerService, message: dict[str, Any]) -> None:
    s = w.settings
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            s.topic_requests,
            json.dumps(message).encode(),
            key=b"acme",
            headers=[("traceparent", TRACEPARENT.encode()), ("tracestate", b"producer=1")],
        )
    finally:
        await producer.stop()


async def traced_roundtrip(w: WorkerService, message: dict[str, Any], expected: int) -> list[Any]:
    """Publish with the producer's trace context; the result records of this request."""
    await publish_traced(w, message)
    s, rid = w.settings, message["request_id"]
    for _ in range(90):
        records = await read(s.kafka_bootstrap_servers, s.topic_results, 100, wait_s=1)
        mine = [r for r in records if json.loads(r.value)["request_id"] == rid]
        if len(mine) >= expected:
            assert len(mine) == expected
            return mine
    raise AssertionError(f"no {expected} results for {rid}")


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


# The httpx instrumentation names attributes by the HTTP semantic conventions in force: the
# older ones unless OTEL_SEMCONV_STABILITY_OPT_IN=http asks for the stable names.
def status_of(http: ReadableSpan) -> Any:
    a = attrs(http)
    return a.get("http.response.status_code", a.get("http.status_code"))


def url_of(http: ReadableSpan) -> str:
    a = attrs(http)
    return str(a.get("url.full", a.get("http.url")))


def one_child(spans: list[ReadableSpan], parent: ReadableSpan, name: str) -> ReadableSpan:
    (child,) = [s for s in children(spans, parent) if s.name == name]
    return child


async def test_one_request_one_trace_across_kafka_the_database_and_http(
    kafka_bootstrap_servers: str, db_url: str, sim: SimulatorHandle
) -> None:
    rid = f"traced-{uuid.uuid4().hex[:6]}"
    message = request(rid, text="Your invoice is ready", target_langs=["de", "fr"])
    with recording("zai-l10n-worker", sampler=DEFAULT_SAMPLER) as exporter:
        async for w in running_worker(kafka_bootstrap_servers, db_url, sim):
            await seed_glossary(w)  # the languages upload their glossary files: more HTTP
            records = await traced_roundtrip(w, message, 2)
        spans = list(exporter.get_finished_spans())

    assert {hex_trace(s) for s in spans} == {TRACE_ID}, "one trace, the producer's"
    (intake,) = named(spans, "intake")
    assert parent_of(intake) == PRODUCER_SPAN and intake.kind is SpanKind.CONSUMER
    assert attrs(intake)["messaging.destination.name"] == w.settings.topic_requests
    (job,) = named(spans, "job")  # across the database hop: the job row kept the context
    assert parent_of(job) == hex_span(intake)
    languages = {attrs(s)["zai_l10n.target_lang"]: s for s in named(spans, "language")}
    assert set(languages) == {"de", "fr"}
    assert {s.name for s in children(spans, job)} == {"language", "publish"}
    for language in languages.values():
        assert attrs(language)["zai_l10n.outcome"] == "translation.completed"
        upload = one_child(spans, language, "zai files_upload")
        agents = one_child(spans, language, "zai agents")
        for call in (upload, agents):
            assert call.kind is SpanKind.CLIENT
            assert attrs(call)["zai.attempt"] == 1
            assert attrs(call)["http.response.status_code"] == 200
            (http,) = children(spans, call)  # the httpx instrumentation's span
            assert http.kind is SpanKind.CLIENT and http.name == "POST"
            assert status_of(http) == 200 and url_of(http).startswith(sim.base_url)
    publishes = named(spans, "publish")
    assert len(publishes) == 2 and all(parent_of(p) == hex_span(job) for p in publishes)
    by_event = {attrs(p)["messaging.message.id"]: p for p in publishes}
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        assert trace_id_of(headers["traceparent"]) == TRACE_ID
        assert span_id_of(headers["traceparent"]) == hex_span(by_event[headers["ce_id"]])
        assert headers["tracestate"] == "producer=1"
        assert headers["ce_type"] == "translation.completed"
    dumped = "".join(s.to_json() for s in spans)
    assert "Your invoice is ready" not in dumped and "[de]" not in dumped
    # Each HTTP exchange was counted by route and status, through bootstrap's wiring.
    value = w.metrics.registry.get_sample_value
    for route in ("agents", "files_upload"):
        assert value("zai_l10n_upstream_attempts_total", {"route": route, "status": "ok"}) == 2


async def test_calls_through_truto_are_traced_to_truto(
    kafka_bootstrap_servers: str, pg_url: str, sim: SimulatorHandle, truto: TrutoSimHandle
) -> None:
    truto.add_account(ACCOUNT, ZAI_KEY)
    message = request(f"truto-{uuid.uuid4().hex[:6]}", text="Hello through Truto")
    with recording("zai-l10n-worker", sampler=DEFAULT_SAMPLER) as exporter:
        async for w in running_worker(
            kafka_bootstrap_servers, pg_url, sim, **truto_settings(truto)
        ):
            await connect_through_truto(w)
            (record,) = await traced_roundtrip(w, message, 1)
        spans = list(exporter.get_finished_spans())
    assert json.loads(record.value)["type"] == "translation.completed"
    assert {hex_trace(s) for s in spans} == {TRACE_ID}
    (agents,) = named(spans, "zai agents")
    http = children(spans, agents)
    # The account's tools are read once (a GET), then the proxied agent call (a POST): both
    # to Truto; nothing goes to the placeholder host the client's own URLs name.
    assert [s.name for s in http][-1] == "POST"
    assert all(url_of(s).startswith(truto.base_url) for s in http)
    assert attrs(agents)["http.response.status_code"] == 200


async def test_the_admin_api_traces_its_requests_and_the_events_they_cause(
    kafka_bootstrap_servers: str, db_url: str
) -> None:
    token = "admin-traces-token"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        topic_glossary_events=f"gl-{uuid.uuid4().hex[:8]}",
        api_admin_token=SecretStr(token),
    )
    csv = (ROOT / "glossaries/acme/product-terms.csv").read_bytes()
    headers = {"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT}
    with recording("zai-l10n-api", sampler=DEFAULT_SAMPLER) as exporter:
        with TestClient(create_app(settings)) as api:
            created = await asyncio.to_thread(
                api.post,
                "/v1/tenants/acme/glossaries",
                files={"file": ("terms.csv", csv, "text/csv")},
                data={"name": "product"},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            (record,) = await read(kafka_bootstrap_servers, settings.topic_glossary_events, 1)
        spans = list(exporter.get_finished_spans())
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert parent_of(server) == PRODUCER_SPAN and hex_trace(server) == TRACE_ID
    assert server.name == "POST /v1/tenants/{tenant}/glossaries"
    (publish,) = named(spans, "publish")
    assert parent_of(publish) == hex_span(server)
    sent = {k: v.decode() for k, v in record.headers}
    assert sent["ce_type"] == "glossary.updated"
    assert sent["traceparent"].split("-")[1:3] == [TRACE_ID, hex_span(publish)]
    assert token not in "".join(s.to_json() for s in spans)
