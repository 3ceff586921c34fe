"""One (job, language) run against fakes of the ports and a scripted Z.ai over MockTransport:
packing fallback, QA retry, glossary file re-upload, sibling cancellation, async ids."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from service.errors import LeaseLost, UpstreamError
from service.glossary.model import GlossaryDocument, GlossaryEntry
from service.l10n.compliance import Policy
from service.pipeline.contract.states import JobState, TargetState
from service.pipeline.ports import (
    ClaimedJob,
    GlossaryPin,
    Target,
    TokenUsage,
    UpstreamFile,
    UpstreamRequest,
    UpstreamTask,
    UpstreamTranslation,
)
from service.pipeline.translation.context import JobContext
from service.pipeline.translation.memory import InFlight
from service.pipeline.translation.run import LanguageRun
from tests.unit.pipeline.fakes import (
    Rig,
    ScriptedZai,
    _translation,
    request,
    rig,
    segments,
    zai_error,
)

OWNER = "worker-1"


def job_of(r: Rig, req: Any, pin: GlossaryPin | None = None, **fields: Any) -> ClaimedJob:
    job_id = r.store.add(req, state=JobState.running, owner=OWNER)
    defaults: dict[str, Any] = {
        "id": job_id,
        "tenant_id": req.tenant_id,
        "request_id": req.request_id,
        "request": req,
        "created_at": datetime.now(UTC),
        "attempts": 1,
        "glossary_id": pin.glossary_id if pin else None,
        "glossary_version": pin.version if pin else None,
        "targets": [Target(lang, TargetState.pending) for lang in req.target_langs],
        "owner": OWNER,
    }
    return ClaimedJob(**(defaults | fields))


async def run(r: Rig, job: ClaimedJob, lang: str = "de", pin: GlossaryPin | None = None) -> Any:
    ctx = JobContext(
        job=job,
        translator=r.tenants.default,
        glossary=pin,
        policy=Policy.report,
        glossaries=r.glossaries,
        durable=r.deps.durable,
    )
    outcome, fresh = await LanguageRun(ctx, lang, r.deps, r.tenants.default).run()
    if fresh:  # as the job's completion writes them: through the outage, if need be
        tenant = job.tenant_id
        await r.deps.durable("memory", lambda: r.memory.remember(tenant, fresh))
    return outcome.model_dump(mode="json")


async def test_a_text_is_translated_in_one_call() -> None:
    r = rig()
    out = await run(r, job_of(r, request(text="Hello")))
    assert out["type"] == "translation.completed" and out["text"] == "[de] Hello"
    assert r.zai.calls_for("de") == ["Hello"] and out["usage"]["upstream_calls"] == 1


def packing(r: Rig, outcome: str) -> float:
    return float(r.metrics.packing.labels(outcome)._value.get())


async def test_packed_reply_without_markers_is_split_in_halves() -> None:
    zai = ScriptedZai(faults={"de": [_translation("markers lost")]})
    r = rig(zai)
    out = await run(r, job_of(r, request(text=None, segments=segments(8))))
    assert [s["text"] for s in out["segments"]] == [
        f"[de] Line {i} of the invoice." for i in range(8)
    ]
    # The packed call, then each half packed again: 3 calls where one per segment took 1 + 8.
    assert len(zai.calls_for("de")) == 3
    assert (packing(r, "packed_ok"), packing(r, "split"), packing(r, "single")) == (2, 1, 0)
    assert all("packing_failed" in s["codes"] for s in out["qa"]["segments"])


async def test_halving_goes_down_to_single_segments_when_markers_keep_getting_lost() -> None:
    lost = _translation("markers lost")  # (0, 1, 2) → (0) and (1, 2) → (1) and (2)
    zai = ScriptedZai(faults={"de": [lost, None, lost]})
    r = rig(zai)
    out = await run(r, job_of(r, request(text=None, segments=segments(3))))
    assert out["type"] == "translation.completed"
    assert [s["text"] for s in out["segments"]] == [
        f"[de] Line {i} of the invoice." for i in range(3)
    ]
    assert (packing(r, "split"), packing(r, "single")) == (2, 3)


async def test_packing_pauses_for_a_tenant_and_language_that_keeps_losing_markers() -> None:
    lost = _translation("markers lost")
    zai = ScriptedZai(faults={"de": [lost, None, None, lost]})
    r = rig(zai)
    r.deps.packing.pause_after = 2
    for n in range(3):
        await run(r, job_of(r, request(f"r{n}", text=None, segments=segments(2, f"Run {n}"))))
    # Runs 1 and 2 lost their markers (1 packed call + 2 singles each); run 3 did not pack.
    assert len(zai.calls_for("de")) == 3 + 3 + 2
    assert packing(r, "paused") == 1 and not r.deps.packing.allows("acme", "de")
    assert r.deps.packing.allows("acme", "fr") and r.deps.packing.allows("globex", "de")


async def test_a_dropped_placeholder_is_retried_once_with_a_stricter_instruction() -> None:
    zai = ScriptedZai(faults={"de": [_translation("[de] Hello")]})  # lost the ⟦0⟧ token
    r = rig(zai)
    out = await run(r, job_of(r, request(text="Hello {name}")))
    assert out["text"] == "[de] Hello {name}"
    assert len(zai.calls_for("de")) == 2


@pytest.mark.parametrize(
    "message",
    [
        "file not found",
        # Real Z.ai's wording is no contract: a 1214 for a request that carried a file id
        # re-uploads whatever it says (none of these names a missing file).
        "The messages parameter is illegal. Please check the documentation.",
        "参数非法",
        "",
    ],
)
async def test_a_forgotten_glossary_file_is_uploaded_again_and_the_call_repeated(
    message: str,
) -> None:
    zai = ScriptedZai(unknown_files={"file-1"}, unknown_file_message=message)
    r = rig(zai)
    doc = GlossaryDocument("en", (GlossaryEntry("invoice", {"de": "Rechnung"}),))
    pin = r.glossaries.add("g1", 1, doc)
    out = await run(r, job_of(r, request(text="Your invoice"), pin), pin=pin)
    assert out["type"] == "translation.completed"
    assert r.file_records.invalidated == ["file-1"] == zai.deleted and zai.uploads == 2
    assert len(zai.calls_for("de")) == 2 and out["glossary_version"] == 1


async def test_a_failed_call_cancels_its_in_flight_siblings_and_starts_no_more() -> None:
    zai = ScriptedZai(latency=0.05, faults={"de": [zai_error(400, "1301", "unsafe content")]})
    r = rig(zai, packing=False, call_concurrency=4)
    out = await run(r, job_of(r, request(text=None, segments=segments(20))))
    assert out["type"] == "translation.failed" and out["error_code"] == "zai.content_filtered"
    # At most the calls already in flight were sent, none after the failure (gather sent all
    # 20), and none of those in flight completed: they were cancelled.
    assert 1 <= len(zai.calls_for("de")) <= 4
    assert r.metrics.upstream_calls.labels("agents", "ok")._value.get() == 0


async def test_an_async_id_is_saved_before_polling_and_reused_after_a_restart() -> None:
    zai = ScriptedZai(async_mode=True)
    r = rig(zai)
    job = job_of(r, request(text="Polling works"))
    first = await run(r, job)
    assert first["text"] == "[de] Polling works" and len(r.store.saved_async_ids) == 1
    # A restarted worker sees the saved id on the claimed job and only polls (the memory is
    # emptied so that the translation must come from Z.ai again; a new process has no
    # translations under way either).
    r.memory.entries.clear()
    r.deps = replace(r.deps, inflight=InFlight())
    (job_id, lang, _) = r.store.saved_async_ids[0]
    resumed = job_of(r, job.request, id=job_id, targets=[r.store.jobs[job_id].targets[lang]])
    again = await run(r, resumed)
    assert again["text"] == first["text"]
    assert len(zai.calls_for("de")) == 1 and zai.polls == 2


async def test_no_async_id_is_saved_or_polled_once_another_worker_holds_the_job() -> None:
    # Its lease ran out while the call was on its way and worker-2 claimed the job, reading
    # its async ids then: an id saved now would be lost to worker-2 and paid for again.
    zai = ScriptedZai(async_mode=True)
    r = rig(zai)
    job = job_of(r, request(text="Too late"))
    r.store.jobs[job.id].owner = "worker-2"
    with pytest.raises(LeaseLost):
        await run(r, job)
    assert len(zai.calls_for("de")) == 1 and zai.polls == 0
    assert r.store.saved_async_ids == [] and r.store.jobs[job.id].targets["de"].async_ids == {}


async def test_memory_hits_skip_the_call_and_only_clean_results_are_remembered() -> None:
    r = rig()
    await run(r, job_of(r, request("a", text="Save changes")))
    out = await run(r, job_of(r, request("b", text="Save  changes ")))
    assert out["usage"]["memory_hits"] == 1 and len(r.zai.calls_for("de")) == 1


async def test_a_memory_entry_keeps_its_source_pair_and_glossary_version() -> None:
    r = rig()
    doc = GlossaryDocument("en", (GlossaryEntry("dashboard", {"de": "Übersicht"}),))
    pin = r.glossaries.add("g-1", 4, doc)
    await run(r, job_of(r, request("a", text="Save  changes"), pin), pin=pin)
    (stored,) = r.memory.stored.values()
    assert (stored.source_text, stored.source_lang, stored.target_lang) == (
        "Save  changes",  # as sent: the search finds what the client wrote
        "en",
        "de",
    )
    assert (stored.glossary_id, stored.glossary_version) == ("g-1", 4)
    assert stored.target_text == r.memory.entries[next(iter(r.memory.stored))]


async def test_a_database_outage_during_the_run_waits_and_keeps_the_paid_result() -> None:
    r = rig()

    async def outage_while_translating(body: dict[str, Any]) -> Any:
        r.outage.down = True  # the database goes away while Z.ai is answering
        reply = await original(body)

        async def back() -> None:
            import asyncio

            await asyncio.sleep(0.05)
            r.outage.down = False

        import asyncio

        asyncio.get_running_loop().create_task(back())
        return reply

    original = r.zai._agents
    r.zai._agents = outage_while_translating  # type: ignore[method-assign]
    out = await run(r, job_of(r, request(text="Paid for once")))
    assert out["text"] == "[de] Paid for once"
    assert len(r.zai.calls_for("de")) == 1  # not translated (and billed) again
    assert r.outage.refused >= 1 and r.waits  # the memory write waited for the database
    assert r.memory.entries  # and was written once it was back


async def test_usage_counts_source_characters_and_the_calls_packing_saved() -> None:
    r = rig()
    out = await run(r, job_of(r, request(text=None, segments=segments(8))))
    usage = out["usage"]
    assert len(r.zai.calls_for("de")) == 1  # eight segments in one packed call
    assert usage["packed_calls_saved"] == 7
    assert usage["source_chars"] == sum(len(s["text"]) for s in segments(8))
    assert (usage["estimated_tokens"], usage["estimate"]) == (0, None)  # no budget check


async def test_a_dense_long_text_is_split_by_tokens_not_characters() -> None:
    # 1,200 characters: one call at 3,000 characters a chunk; but the tokenizer (4 characters
    # a token in the fake) counts 300 tokens, over a limit of 100: chunks of 400 characters.
    text = "\n".join(f"Paragraph {i:02d}: " + "x" * 86 for i in range(12))
    r = rig(chunk_chars=3000, chunk_tokens=100)
    out = await run(r, job_of(r, request(text=text)))
    assert out["type"] == "translation.completed"
    calls = r.zai.calls_for("de")
    assert len(calls) == 4 and all(len(c) <= 400 for c in calls)
    assert r.zai.counted == [text]


async def test_without_the_tokenizer_a_long_text_is_split_by_a_character_estimate() -> None:
    text = "\n".join(f"Paragraph {i:02d}: " + "x" * 86 for i in range(12))
    r = rig(ScriptedZai(tokenizer_down=True), chunk_chars=3000, chunk_tokens=100)
    out = await run(r, job_of(r, request(text=text)))
    assert out["type"] == "translation.completed"  # the outage failed nothing
    # 1,200 characters at 3 a token is 400 tokens: chunks of 300 characters at most.
    assert all(len(c) <= 300 for c in r.zai.calls_for("de"))


async def test_jobs_running_together_pay_for_a_shared_segment_once() -> None:
    """Memory helps only once a translation is stored: two jobs claimed together with the
    same text share the one call under way instead of both paying for it."""
    zai = ScriptedZai(latency=0.05)
    r = rig(zai)
    first, second = await asyncio.gather(
        run(r, job_of(r, request("a", text="Export the report"))),
        run(r, job_of(r, request("b", text="Export  the report"))),
    )
    assert zai.calls_for("de") == ["Export the report"]
    assert first["text"] == second["text"] == "[de] Export the report"
    hits = sorted(o["usage"]["memory_hits"] for o in (first, second))
    assert hits == [0, 1]


async def test_a_repeated_segment_of_one_request_is_translated_once() -> None:
    r = rig(packing=False)
    texts = [{"id": "a", "text": "Save"}, {"id": "b", "text": "Open"}, {"id": "c", "text": "Save"}]
    out = await run(r, job_of(r, request(text=None, segments=texts)))
    assert sorted(r.zai.calls_for("de")) == ["Open", "Save"]
    assert [s["text"] for s in out["segments"]] == ["[de] Save", "[de] Open", "[de] Save"]
    assert [s["index"] for s in out["qa"]["segments"]] == [0, 1, 2]


async def test_a_waiting_job_translates_itself_when_the_shared_call_fails() -> None:
    zai = ScriptedZai(latency=0.05, faults={"de": [zai_error(400, "1301", "unsafe content")]})
    r = rig(zai)
    outcomes = await asyncio.gather(
        run(r, job_of(r, request("a", text="Delete the team"))),
        run(r, job_of(r, request("b", text="Delete the team"))),
    )
    failed, waited = sorted(outcomes, key=lambda o: o["type"], reverse=True)
    assert failed["type"] == "translation.failed"
    assert waited["text"] == "[de] Delete the team" and waited["usage"]["memory_hits"] == 0
    assert len(zai.calls_for("de")) == 2


class PlainTranslator:
    """A translator in the core's own terms only (no Z.ai type): the port is all a run needs."""

    key_fingerprint = "plain"

    def __init__(self, fail: UpstreamError | None = None) -> None:
        self.fail, self.sent = fail, []

    async def submit(self, request: UpstreamRequest) -> UpstreamTranslation | UpstreamTask:
        self.sent.append(request)
        if self.fail is not None:
            raise self.fail
        return UpstreamTask(f"task-{len(self.sent)}")

    async def poll(self, async_id: str, *, glossary: str | None = None) -> UpstreamTranslation:
        text = self.sent[-1].text
        return UpstreamTranslation(f"<{text}>", TokenUsage(2, 3, 5), attempts=1, polls=1)

    async def upload_file(self, filename: str, content: bytes) -> UpstreamFile:
        return UpstreamFile("f-1")

    async def can_delete_files(self) -> bool:
        return True

    async def delete_file(self, file_id: str) -> bool:
        return True

    async def count_tokens(
        self, text: str, *, retry: bool = True, http_timeout: float | None = None
    ) -> int:
        return len(text)

    async def aclose(self) -> None:
        return None


async def run_with(r: Rig, translator: PlainTranslator, job: ClaimedJob) -> dict[str, Any]:
    ctx = JobContext(job, translator, None, Policy.report, r.glossaries, r.deps.durable)
    outcome, _ = await LanguageRun(ctx, "de", r.deps, translator).run()
    return outcome.model_dump(mode="json")


async def test_a_translator_speaking_only_the_core_types_serves_a_run() -> None:
    r, plain = rig(), PlainTranslator()
    out = await run_with(r, plain, job_of(r, request(text="Hello")))
    assert out["text"] == "<Hello>" and out["usage"]["total_tokens"] == 5
    assert out["usage"]["upstream_calls"] == 2  # a submit and a poll
    assert [type(req) for req in plain.sent] == [UpstreamRequest]
    assert len(r.store.saved_async_ids) == 1  # the task's id, stored before its poll


async def test_an_upstream_error_fails_the_language_with_its_own_code() -> None:
    class Refused(UpstreamError):
        error_code = "zai.content_filtered"

    r = rig()
    plain = PlainTranslator(Refused("blocked", code="1301", retryable=False))
    out = await run_with(r, plain, job_of(r, request(text="Hello")))
    assert out["type"] == "translation.failed"
    assert (out["error_code"], out["retryable"]) == ("zai.content_filtered", False)
    unknown = PlainTranslator(UpstreamError("odd", retryable=True))
    out = await run_with(r, unknown, job_of(r, request("r2", text="Hello")))
    assert (out["error_code"], out["retryable"]) == ("zai.error", True)
