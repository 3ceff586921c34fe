"""Localization correctness through the whole pipeline: the 200+ string corpus, simulator
corruption caught, glossary policy, and a resource file round trip (real Kafka, both databases,
the simulator over HTTP)."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import polib
import pytest

from service.worker.app import WorkerService
from tests.support.pipeline import request, roundtrip, seed_glossary

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]
DATA = Path(__file__).resolve().parents[1] / "data" / "l10n"
CORPUS = [
    json.loads(line) for line in (DATA / "corpus.jsonl").read_text("utf-8").splitlines() if line
]
# What must survive translation verbatim, found independently of the masking code.
PROTECTED = re.compile(
    r"\{\{[^{}]+\}\}|%(?:\d+\$)?[sdif@]|</?[a-zA-Z][^<>]*>|&[a-z]+;|&#\d+;|`[^`]+`"
    r"|https?://\S+?(?=[\s)\"']|[.,;!?]?(?:\s|$))|[\w.+-]+@[\w-]+\.[\w.]+"
)


ICU_BRANCHING = re.compile(r"\{\s*\w+\s*,\s*(?:plural|select|selectordinal)\s*,")


def protected(text: str) -> Counter[str] | set[str]:
    """Protected items with their counts; for plural/select messages, whose branches the target
    language may add or drop (CLDR categories), which items occur."""
    found = PROTECTED.findall(text)
    return set(found) if ICU_BRANCHING.search(text) else Counter(found)


def corpus_request(rid: str, langs: list[str], **extra: Any) -> dict[str, Any]:
    segments = [{"id": row["id"], "text": row["text"]} for row in CORPUS]
    return request(rid, text=None, segments=segments, target_langs=langs, **extra)


async def test_corpus_is_delivered_intact(worker: WorkerService, sim: Any) -> None:
    assert len(CORPUS) >= 200
    await seed_glossary(worker)
    got = await roundtrip(worker, [corpus_request("corpus", ["de", "pl"])], 2)
    for event in got:
        assert event["type"] == "translation.completed"
        assert event["failed_segments"] == [] and event["qa"]["totals"]["failed"] == 0
        assert event["qa"]["totals"]["placeholder_errors"] == 0
        for row, seg in zip(CORPUS, event["segments"], strict=True):
            assert seg["id"] == row["id"]
            assert protected(seg["text"]) == protected(row["text"]), (row["id"], seg["text"])
    # Packing: a couple of agent calls per language instead of one per segment.
    calls = sim.counters()["calls"]["agents"]
    assert calls < len(CORPUS) // 4, calls


@pytest.mark.parametrize("fault", ["placeholder_drop", "placeholder_duplicate"])
async def test_corrupted_placeholders_are_caught_never_delivered(
    worker: WorkerService, sim: Any, fault: str
) -> None:
    sim.script("agents", rates={fault: 1.0})
    (event,) = await roundtrip(worker, [corpus_request(f"bad-{fault}", ["de"])], 1)
    assert event["type"] == "translation.completed"
    failed = set(event["failed_segments"])
    assert failed, "the checks must catch the corruption"
    for row, seg, seg_qa in zip(CORPUS, event["segments"], event["qa"]["segments"], strict=True):
        if seg["text"] is None:
            assert row["id"] in failed and seg_qa["status"] == "failed"
            assert seg_qa["attempts"] == 2  # retried once with the stricter instruction
        else:
            assert protected(seg["text"]) == protected(row["text"]), (row["id"], seg["text"])


async def test_lost_packing_markers_split_the_batch_then_pause_packing(
    worker: WorkerService, sim: Any
) -> None:
    """Every packed reply loses a marker: texts are still delivered intact, the first losses
    split their batches, and packing then pauses for the tenant and language, so the calls
    stay near one per text instead of doubling."""
    sim.script("agents", rates={"marker_drop": 1.0})
    req = corpus_request("markers", ["de"], tenant_id="packfail")
    (event,) = await roundtrip(worker, [req], 1)
    assert event["type"] == "translation.completed" and event["failed_segments"] == []
    for row, seg in zip(CORPUS, event["segments"], strict=True):
        assert protected(seg["text"]) == protected(row["text"]), (row["id"], seg["text"])
    texts = event["qa"]["totals"]["segments"]
    packing = {
        s.labels["outcome"]: s.value
        for m in worker.metrics.registry.collect()
        if m.name == "zai_l10n_packing"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert packing.get("packed_ok", 0) == 0 and packing["split"] >= 3 and packing["paused"] >= 1
    calls = sim.counters()["calls"]["agents"]
    assert calls <= 2 * texts, (calls, texts)


async def test_glossary_fail_policy_fails_a_dropped_term(worker: WorkerService, sim: Any) -> None:
    await seed_glossary(worker)
    sim.script("agents", rates={"glossary_drop": 1.0})
    text = "Download the invoice from the dashboard."
    (report_only,) = await roundtrip(worker, [request("pol-report", text=text)], 1)
    assert report_only["type"] == "translation.completed"
    assert report_only["qa"]["segments"][0]["glossary"]["misses"]
    (fail,) = await roundtrip(worker, [request("pol-fail", text=text + " ", qa_policy="fail")], 1)
    assert fail["type"] == "translation.failed" and fail["error_code"] == "qa.failed"
    assert "glossary_policy" in fail["message"]


async def test_resource_file_round_trip(worker: WorkerService) -> None:
    po = (DATA / "files" / "messages.po").read_bytes()
    file = {"filename": "messages.po", "content_b64": base64.b64encode(po).decode()}
    (event,) = await roundtrip(
        worker, [request("po-1", text=None, file=file, target_langs=["de"])], 1
    )
    assert event["type"] == "translation.completed", event
    out = base64.b64decode(event["file"]["content_b64"]).decode()
    source, translated = polib.pofile(po.decode()), polib.pofile(out)
    assert [e.msgid for e in translated] == [e.msgid for e in source]
    singular = [e for e in translated if e.msgid and not e.msgid_plural and not e.obsolete]
    assert singular and all(e.msgstr.startswith("[de]") for e in singular)
    assert translated.metadata["Language"] == "de"


async def test_malformed_resource_file_is_dead_lettered(worker: WorkerService) -> None:
    from tests.support.worker import events, publish, read

    s = worker.settings
    bad = request(
        "po-bad",
        text=None,
        file={"filename": "x.po", "content_b64": base64.b64encode(b'msgid "a\nmsgstr').decode()},
    )
    await publish(s.kafka_bootstrap_servers, s.topic_requests, [bad])
    (letter,) = events(await read(s.kafka_bootstrap_servers, s.topic_dlq, 1))
    assert letter["reason"] == "bad_file"


async def test_tenant_policy_applies_unless_the_request_overrides(
    worker: WorkerService, sim: Any
) -> None:
    from service.store.db import session_factory
    from service.store.tables import TenantSettings

    await seed_glossary(worker)
    async with session_factory(worker.engine)() as s:
        s.add(TenantSettings(tenant_id="acme", qa_glossary_policy="fail"))
        await s.commit()
    sim.script("agents", rates={"glossary_drop": 1.0})
    text = "Open the dashboard, then the invoice."
    (tenant_fail,) = await roundtrip(worker, [request("tp-1", text=text)], 1)
    assert tenant_fail["type"] == "translation.failed"
    (overridden,) = await roundtrip(
        worker, [request("tp-2", text=text + "!", qa_policy="report")], 1
    )
    assert overridden["type"] == "translation.completed"
