"""In-memory fakes of the pipeline's ports, and a scripted Z.ai over httpx.MockTransport.

They implement the real protocols (mypy checks that where they are wired) and record what
happened, so tests assert on behaviour: calls per language, saved async ids, outbox events.
A fake store can be taken "down": every call then raises StoreUnavailable, as the SQL adapters
do when the database does not answer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.errors import CredentialInvalid, StoreUnavailable
from service.glossary.cache_policy import CachedFile
from service.glossary.model import GlossaryDocument
from service.l10n.compliance import Policy
from service.metrics import Metrics
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent, Outcome, state_of
from service.pipeline.contract.states import FileState, JobState, TargetState
from service.pipeline.durable import Durable
from service.pipeline.ports import (
    Accepted,
    Arrival,
    Candidate,
    ClaimedJob,
    Completion,
    EstimateMethod,
    FileRecord,
    GlossaryPin,
    Held,
    PairKey,
    Remembered,
    Standing,
    Target,
    Translator,
)
from service.pipeline.translation.estimate import TokenEstimator
from service.pipeline.translation.glossary_files import UploadCache
from service.pipeline.translation.run import RunConfig, RunDeps
from service.sim.translate import count_tokens, fake_translate
from service.zai import ZaiClient
from service.zai.retry import RetryPolicy

AGENTS = "https://zai.test/api/v1"
FILES = "https://zai.test/api/paas/v4"


class Outage:
    """Shared switch: while `down`, every fake store call fails like an unreachable database."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0

    def check(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable("ConnectionRefusedError: fake database is down")


@dataclass
class _Job:
    id: str
    request: TranslationRequestV1
    state: JobState = JobState.queued
    owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    glossary: tuple[str, int] | None = None
    targets: dict[str, Target] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace: dict[str, str] = field(default_factory=dict)


class FakeJobStore:
    def __init__(self, outage: Outage | None = None) -> None:
        self.outage = outage or Outage()
        self.jobs: dict[str, _Job] = {}
        self.outbox: list[OutboundEvent] = []
        self.saved_async_ids: list[tuple[str, str, str]] = []
        self.glossary_for: dict[str, tuple[str, int]] = {}  # tenant -> pinned at accept
        self.budgets: FakeBudgets | None = None  # settled in `complete`, as the SQL store does
        self.memory: FakeMemory | None = None  # the completion's entries, likewise

    def add(self, request: TranslationRequestV1, **fields: Any) -> str:
        job = _Job(str(uuid.uuid4()), request, **fields)
        job.glossary = job.glossary or self.glossary_for.get(request.tenant_id)
        job.targets = {
            lang: Target(lang, TargetState.pending) for lang in request.target_langs
        } | job.targets
        self.jobs[job.id] = job
        return job.id

    def by_request(self, request_id: str) -> _Job:
        return next(j for j in self.jobs.values() if j.request.request_id == request_id)

    async def accept(
        self, arrivals: Sequence[Arrival], dead_letters: Sequence[OutboundEvent], results_topic: str
    ) -> Accepted:
        self.outage.check()
        self.outbox.extend(dead_letters)
        created = duplicates = conflicts = 0
        for a in arrivals:
            key = (a.request.tenant_id, a.request.request_id)
            known = next(
                (
                    j
                    for j in self.jobs.values()
                    if (j.request.tenant_id, j.request.request_id) == key
                ),
                None,
            )
            if known is None:
                self.add(a.request, trace=dict(a.trace))
                created += 1
            elif known.request.content_hash() != a.content_hash:
                self.outbox.append(a.conflict(known.request.content_hash()))
                conflicts += 1
            else:
                duplicates += 1
        return Accepted(created, duplicates, conflicts=conflicts)

    async def backlog(self) -> int:
        self.outage.check()
        return sum(j.state is not JobState.done for j in self.jobs.values())

    async def candidates(self, limit: int) -> list[Candidate]:
        self.outage.check()
        now = datetime.now(UTC)
        free = [j for j in self.jobs.values() if self._claimable(j, now)]
        return [Candidate(j.id, j.request.tenant_id) for j in free[:limit]]

    async def claim(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> list[ClaimedJob]:
        self.outage.check()
        now, won = datetime.now(UTC), []
        for job_id in job_ids:
            job = self.jobs[job_id]
            if self._claimable(job, now):
                job.state, job.owner, job.lease_until = JobState.running, owner, now + lease
                job.attempts += 1
                won.append(self._claimed(job))
        return won

    async def claim_next(
        self,
        choose: Callable[[list[Candidate]], list[Candidate]],
        limit: int,
        owner: str,
        lease: timedelta,
    ) -> list[ClaimedJob]:
        chosen = choose(await self.candidates(limit))
        return await self.claim([c.job_id for c in chosen], owner, lease) if chosen else []

    async def renew(self, job_ids: Sequence[str], owner: str, lease: timedelta) -> set[str]:
        self.outage.check()
        held = {i for i in job_ids if self._held(self.jobs[i], owner)}
        for i in held:
            self.jobs[i].lease_until = datetime.now(UTC) + lease
        return held

    async def release(self, job_ids: Sequence[str], owner: str) -> None:
        self.outage.check()
        for i in job_ids:
            if self._held(self.jobs[i], owner):
                self.jobs[i].state, self.jobs[i].owner = JobState.queued, None

    async def save_async_id(
        self, job_id: str, lang: str, call_key: str, async_id: str, owner: str
    ) -> bool:
        self.outage.check()
        if not self._held(self.jobs[job_id], owner):
            return False
        self.saved_async_ids.append((job_id, lang, async_id))
        t = self.jobs[job_id].targets[lang]
        self.jobs[job_id].targets[lang] = Target(
            lang, t.state, t.outcome, {**t.async_ids, call_key: async_id}
        )
        return True

    async def finish_target(self, job_id: str, lang: str, outcome: Outcome) -> None:
        self.outage.check()
        self._set(self.jobs[job_id], lang, outcome)

    async def complete(self, completion: Completion) -> bool:
        self.outage.check()
        if self.memory is not None:  # written whoever holds the job, as the store does
            self.memory.store(completion.memory)
        job = self.jobs[completion.job_id]
        if not self._held(job, completion.owner):
            return False
        for lang, body in completion.outcomes.items():
            old = job.targets[lang]
            if old.state is TargetState.pending:
                state = TargetState(body["type"].split(".")[1])
                job.targets[lang] = Target(lang, state, dict(body), old.async_ids)
        self.outbox.extend(completion.events)
        job.state, job.owner = JobState.done, None
        if self.budgets is not None:
            self.budgets.settle(job.request.tenant_id, completion)
        return True

    def outcomes(self, request_id: str) -> dict[str, dict[str, Any]]:
        job = self.by_request(request_id)
        return {lang: t.outcome for lang, t in job.targets.items() if t.outcome is not None}

    @staticmethod
    def _set(job: _Job, lang: str, outcome: Outcome) -> None:
        old = job.targets[lang]
        body = outcome.model_dump(mode="json")
        job.targets[lang] = Target(lang, state_of(outcome), body, old.async_ids)

    @staticmethod
    def _held(job: _Job, owner: str) -> bool:
        return job.owner == owner and job.state is JobState.running

    @staticmethod
    def _claimable(job: _Job, now: datetime) -> bool:
        expired = job.lease_until is not None and job.lease_until < now
        return job.state is JobState.queued or (job.state is JobState.running and expired)

    @staticmethod
    def _claimed(job: _Job) -> ClaimedJob:
        return ClaimedJob(
            id=job.id,
            tenant_id=job.request.tenant_id,
            request_id=job.request.request_id,
            request=job.request,
            created_at=job.created_at,
            attempts=job.attempts,
            glossary_id=job.glossary[0] if job.glossary else None,
            glossary_version=job.glossary[1] if job.glossary else None,
            targets=sorted(job.targets.values(), key=lambda t: t.lang),
            trace=job.trace,
            owner=job.owner or "",
        )


class FakeBudgets:
    """Budgets in memory: `settle` is what the completion transaction does (release the job's
    reservation, add its completed events' tokens to the tenant's spending)."""

    def __init__(self, outage: Outage | None = None) -> None:
        self.outage = outage or Outage()
        self.limits: dict[str, int] = {}
        self.spent: dict[str, int] = defaultdict(int)
        self.held: dict[str, tuple[str, int, Held]] = {}  # job -> (tenant, tokens, per language)
        self.reservations = 0

    async def limit(self, tenant_id: str) -> int | None:
        self.outage.check()
        return self.limits.get(tenant_id)

    async def standing(self, tenant_id: str, job_id: str) -> Standing | None:
        self.outage.check()
        if tenant_id not in self.limits:
            return None
        held = self.held.get(job_id)
        reserved = sum(t for tenant, t, _ in self.held.values() if tenant == tenant_id)
        return Standing(
            self.limits[tenant_id], self.spent[tenant_id], reserved, held[2] if held else None
        )

    async def reserve(
        self,
        tenant_id: str,
        job_id: str,
        per_language: int,
        languages: int,
        method: EstimateMethod,
    ) -> tuple[bool, Standing | None]:
        before = await self.standing(tenant_id, job_id)
        if before is None or before.held is not None:
            return True, before
        tokens = per_language * languages
        if before.remaining < tokens:
            return False, before
        self.held[job_id] = (tenant_id, tokens, Held(per_language, method))
        self.reservations += 1
        return True, await self.standing(tenant_id, job_id)

    def settle(self, tenant_id: str, completion: Completion) -> None:
        self.held.pop(completion.job_id, None)
        for event in completion.events:
            if event.payload["type"] == "translation.completed":
                self.spent[tenant_id] += event.payload["usage"]["total_tokens"]


class FakeMemory:
    def __init__(self, outage: Outage | None = None) -> None:
        self.outage = outage or Outage()
        self.entries: dict[str, str] = {}
        self.remembered: list[str] = []
        self.stored: dict[str, Remembered] = {}

    async def recall(self, keys: Sequence[str]) -> dict[str, str]:
        self.outage.check()
        return {k: self.entries[k] for k in keys if k in self.entries}

    async def remember(self, tenant_id: str, entries: Mapping[str, Remembered]) -> None:
        self.outage.check()
        self.store(entries)

    def store(self, entries: Mapping[str, Remembered]) -> None:
        for k, v in entries.items():
            self.entries.setdefault(k, v.target_text)
            self.stored.setdefault(k, v)
            self.remembered.append(k)


class FakeTenants:
    def __init__(self, translator: Translator, outage: Outage | None = None) -> None:
        self.outage = outage or Outage()
        self.default = translator
        self.corrupt: set[str] = set()
        self.policies: dict[str, Policy] = {}

    async def translator(self, tenant_id: str) -> Translator:
        self.outage.check()
        if tenant_id in self.corrupt:
            raise CredentialInvalid("the tenant's stored Z.ai key cannot be decrypted")
        return self.default

    async def policy(self, tenant_id: str) -> Policy | None:
        self.outage.check()
        return self.policies.get(tenant_id)


class FakeGlossaries:
    def __init__(self) -> None:
        self.pins: dict[tuple[str, int], GlossaryPin] = {}
        self.docs: dict[int, GlossaryDocument] = {}

    def add(self, glossary_id: str, version: int, doc: GlossaryDocument) -> GlossaryPin:
        pin = GlossaryPin(glossary_id, version, len(self.docs) + 1, f"h{version}", doc.source_lang)
        self.pins[(glossary_id, version)] = pin
        self.docs[pin.version_id] = doc
        return pin

    async def pinned(self, glossary_id: str, version: int) -> GlossaryPin | None:
        return self.pins.get((glossary_id, version))

    async def document(self, pin: GlossaryPin) -> GlossaryDocument:
        return self.docs[pin.version_id]


class FakeGlossaryFileRecords:
    """The upload cache's rows in memory (the real cache, `UploadCache`, decides over them)."""

    def __init__(self) -> None:
        self.rows: dict[PairKey, FileRecord] = {}
        self.invalidated: list[str] = []

    async def find(self, key: PairKey) -> FileRecord | None:
        return self.rows.get(key)

    async def insert_claim(self, key: PairKey, owner: str, until: datetime) -> int | None:
        if key in self.rows:
            return None
        row_id = len(self.rows) + 1
        self.rows[key] = FileRecord(row_id, FileState.uploading, None, None, None, until)
        return row_id

    async def take_over(self, record: FileRecord, owner: str, until: datetime) -> bool:
        key = self._key(record.id)
        if self.rows[key] != record:
            return False
        self.rows[key] = replace(record, state=FileState.uploading, lease_expires_at=until)
        return True

    async def touch(self, row_id: int, now: datetime) -> None:
        key = self._key(row_id)
        self.rows[key] = replace(self.rows[key], last_used_at=now)

    async def mark_ready(self, row_id: int, file_id: str | None, now: datetime) -> None:
        key = self._key(row_id)
        self.rows[key] = FileRecord(row_id, FileState.ready, file_id, now, now, None)

    async def set_state(self, row_id: int, state: FileState) -> None:
        key = self._key(row_id)
        self.rows[key] = replace(self.rows[key], state=state, lease_expires_at=None)

    async def ready_files(self, account: str) -> list[CachedFile]:
        return [
            CachedFile(r.id, r.file_id, r.last_used_at)
            for k, r in self.rows.items()
            if k.account == account and r.state is FileState.ready and r.file_id
        ]

    async def superseded(self, key: PairKey, current_row: int) -> list[tuple[int, str | None]]:
        return []  # one version per glossary here

    async def invalidate(self, key: PairKey, file_id: str) -> None:
        row = self.rows.get(key)
        if row is not None and row.file_id == file_id:
            self.rows[key] = replace(row, state=FileState.stale)
            self.invalidated.append(file_id)

    def _key(self, row_id: int) -> PairKey:
        return next(k for k, r in self.rows.items() if r.id == row_id)


# --- a scripted Z.ai ----------------------------------------------------------------------


Fault = Callable[[dict[str, Any]], httpx.Response | None]


@dataclass
class ScriptedZai:
    """Translates like the simulator (`[de] text`); faults are scripted per target language.

    `faults[lang]` is consumed one entry per agent call of that language (None = answer
    normally); `latency` seconds of real sleep per call let siblings be in flight together.
    """

    latency: float = 0.0
    faults: dict[str, list[httpx.Response | None]] = field(default_factory=dict)
    async_mode: bool = False
    unknown_files: set[str] = field(default_factory=set)  # file ids Z.ai "forgot"
    unknown_file_message: str = "file not found"  # how it says so (1214 whatever the words)
    calls: list[tuple[float, str, str]] = field(default_factory=list)  # (time, lang, text)
    polls: int = 0
    uploads: int = 0
    deleted: list[str] = field(default_factory=list)  # file ids deleted
    failed_at: dict[str, float] = field(default_factory=dict)  # first fault served, per language
    tokenizer_down: bool = False  # the tokenizer answers 503
    counted: list[str] = field(default_factory=list)  # texts sent to the tokenizer
    _tasks: dict[str, str] = field(default_factory=dict)

    def calls_for(self, lang: str) -> list[str]:
        return [text for _, code, text in self.calls if code == lang]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/files") and request.method == "POST":
            self.uploads += 1
            return httpx.Response(200, json={"id": f"file-{self.uploads}", "bytes": 1})
        if "/files/" in path and request.method == "DELETE":
            self.deleted.append(path.rsplit("/", 1)[-1])
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[-1], "deleted": True})
        if path.endswith("/tokenizer"):
            content = json.loads(request.content)["messages"][0]["content"]
            self.counted.append(content)
            if self.tokenizer_down:
                return zai_error(503, "503", "unavailable")
            return httpx.Response(200, json={"usage": {"prompt_tokens": count_tokens(content)}})
        if path.endswith("/agents/async-result"):
            self.polls += 1
            body = json.loads(request.content)
            return _translation(self._tasks[body["async_id"]])
        body = json.loads(request.content)
        return await self._agents(body)

    async def _agents(self, body: dict[str, Any]) -> httpx.Response:
        variables = body["custom_variables"]
        lang, text = variables["target_lang"], body["messages"][0]["content"][0]["text"]
        self.calls.append((time.monotonic(), lang, text))
        script = self.faults.get(lang)
        fault = script.pop(0) if script else None
        if fault is not None:  # a fault answers at once; good replies take `latency`
            self.failed_at.setdefault(lang, time.monotonic())
            return fault
        if self.latency:
            await asyncio.sleep(self.latency)
        if variables.get("glossary") in self.unknown_files:
            return httpx.Response(
                400, json={"error": {"code": "1214", "message": self.unknown_file_message}}
            )
        translated = fake_translate(text, lang)
        if self.async_mode:
            task = f"task-{len(self._tasks) + 1}"
            self._tasks[task] = translated
            return httpx.Response(
                200,
                json={"status": "pending", "agent_id": "general_translation", "async_id": task},
            )
        return _translation(translated)

    def client(self) -> ZaiClient:
        async def no_sleep(_: float) -> None:
            await asyncio.sleep(0)

        return ZaiClient(
            "k3y.s3cret",
            agents_base_url=AGENTS,
            files_base_url=FILES,
            retry=RetryPolicy(max_retries=1, base=0.001, max=0.001),
            transport=httpx.MockTransport(self.handler),
            sleep=no_sleep,
            poll_initial=0.001,
        )


def _translation(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status": "success",
            "choices": [
                {
                    "finish_reason": "stop",
                    "messages": [{"role": "assistant", "content": {"type": "text", "text": text}}],
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )


def zai_error(status: int, code: str, message: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@dataclass
class Rig:
    """The ports wired together as the composition root does, with fakes."""

    zai: ScriptedZai
    outage: Outage
    store: FakeJobStore
    memory: FakeMemory
    tenants: FakeTenants
    glossaries: FakeGlossaries
    files: UploadCache
    file_records: FakeGlossaryFileRecords
    metrics: Metrics
    deps: RunDeps
    budgets: FakeBudgets
    waits: list[float] = field(default_factory=list)


def rig(zai: ScriptedZai | None = None, **config: Any) -> Rig:
    zai = zai or ScriptedZai()
    outage = Outage()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0.001)

    store, memory, budgets = FakeJobStore(outage), FakeMemory(outage), FakeBudgets(outage)
    store.budgets, store.memory = budgets, memory
    tenants, metrics = FakeTenants(zai.client()), Metrics()
    records = FakeGlossaryFileRecords()
    files = UploadCache(records, owner="worker-1")
    deps = RunDeps(
        store=store,
        memory=memory,
        files=files,
        metrics=metrics,
        durable=Durable(sleep=sleep),
        config=RunConfig(**config),
        estimator=TokenEstimator(on_estimate=lambda m: metrics.token_estimates.labels(m).inc()),
    )
    glossaries = FakeGlossaries()
    return Rig(
        zai,
        outage,
        store,
        memory,
        tenants,
        glossaries,
        files,
        records,
        metrics,
        deps,
        budgets,
        waits,
    )


def request(rid: str = "r1", **fields: Any) -> TranslationRequestV1:
    data: dict[str, Any] = {
        "request_id": rid,
        "tenant_id": "acme",
        "source_lang": "en",
        "target_langs": ["de"],
        "text": "Hello",
    }
    return TranslationRequestV1.model_validate(data | fields)


def segments(n: int, prefix: str = "Line") -> list[dict[str, str]]:
    return [{"id": f"s{i}", "text": f"{prefix} {i} of the invoice."} for i in range(n)]


def grouped(calls: list[tuple[float, str, str]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for _, lang, _ in calls:
        out[lang] += 1
    return dict(out)
