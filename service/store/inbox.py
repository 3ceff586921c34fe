"""The inbox: a consumed batch becomes jobs, dead letters and republished events in one script.

Existing jobs of the batch's (tenant, request_id)s are looked up together, the live glossaries
of its tenants once, then new jobs, their targets and the outbox rows go in with one
statement each. A job is pinned to the glossary version current when it is accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from service.pipeline.contract.outcomes import OutboundEvent, outcome_event
from service.pipeline.ports import Accepted, Arrival
from service.store.driver import Dialect, Script, fetch, fetch_each, many
from service.store.outbox import INSERT as INSERT_OUTBOX
from service.store.outbox import headers_of, row_values

FIND = (
    "SELECT id, tenant_id, request_id, state, request_hash FROM job"
    " WHERE tenant_id = ? AND request_id = ?"
)
INSERT_JOB = (
    "INSERT INTO job (id, tenant_id, request_id, state, request, request_hash, glossary_id,"
    " glossary_version, source_topic, source_partition, source_offset, attempts, created_at,"
    " updated_at, trace_context) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
)
INSERT_TARGET = (
    "INSERT INTO job_target (job_id, target_lang, state, async_ids, updated_at)"
    " VALUES (?, ?, 'pending', '{}', ?)"
)
OUTCOMES = "SELECT job_id, outcome FROM job_target WHERE job_id = ?"


@dataclass(frozen=True)
class _Known:
    """A job that exists for a (tenant, request_id): stored, or created earlier in the batch."""

    job_id: str
    state: str
    content_hash: str | None  # None: accepted before migration 0005


@dataclass(frozen=True)
class _Glossary:
    id: str
    name: str
    version: int
    is_default: bool


@dataclass
class _Batch:
    """What the batch writes, gathered while its arrivals are decided."""

    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    targets: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[OutboundEvent] = field(default_factory=list)
    republish: list[tuple[str, Arrival]] = field(default_factory=list)  # (job id, duplicate)


def accept(
    d: Dialect,
    arrivals: Sequence[Arrival],
    dead_letters: Sequence[OutboundEvent],
    results_topic: str,
    now: datetime,
) -> Script[Accepted]:
    keys = [(a.request.tenant_id, a.request.request_id) for a in arrivals]
    known = {
        (tenant, rid): _Known(job_id, state, digest)
        for job_id, tenant, rid, state, digest in ((yield fetch_each(FIND, keys)) if keys else [])
    }
    glossaries = yield from _glossaries(d, {a.request.tenant_id for a in arrivals})
    batch, counts = _Batch(events=list(dead_letters)), [0, 0, 0, 0]
    for arrival in arrivals:
        _decide(d, arrival, known, glossaries, batch, counts, now)
    if batch.republish:
        counts[2] = yield from _republish(batch, results_topic)
    yield from _write(d, batch, now)
    created, duplicates, republished, conflicts = counts
    return Accepted(created, duplicates, republished, conflicts)


def _decide(
    d: Dialect,
    arrival: Arrival,
    known: dict[tuple[str, str], _Known],
    glossaries: Mapping[str, list[_Glossary]],
    batch: _Batch,
    counts: list[int],
    now: datetime,
) -> None:
    """A new job, a conflict (another content hash) or a duplicate (republished if done)."""
    request = arrival.request
    key, digest = (request.tenant_id, request.request_id), arrival.content_hash
    found = known.get(key)
    if found is None:
        job_id = str(uuid.uuid4())
        glossary = _pin(glossaries.get(request.tenant_id, []), request.glossary)
        batch.jobs.append(_job_row(d, job_id, arrival, digest, glossary, now))
        batch.targets.extend((job_id, lang, d.time(now)) for lang in request.target_langs)
        known[key] = _Known(job_id, "queued", digest)
        counts[0] += 1
    elif found.content_hash is not None and found.content_hash != digest:
        batch.events.append(arrival.conflict(found.content_hash))
        counts[3] += 1
    else:
        counts[1] += 1
        if found.state == "done":
            batch.republish.append((found.job_id, arrival))


def _job_row(
    d: Dialect,
    job_id: str,
    arrival: Arrival,
    digest: str,
    glossary: _Glossary | None,
    now: datetime,
) -> tuple[Any, ...]:
    request, t = arrival.request, d.time(now)
    return (
        job_id,
        request.tenant_id,
        request.request_id,
        request.model_dump_json(),
        digest,
        glossary.id if glossary else None,
        glossary.version if glossary else None,
        arrival.topic,
        arrival.partition,
        arrival.offset,
        t,
        t,
        orjson.dumps(dict(arrival.trace)).decode() if arrival.trace else None,
    )


def _glossaries(d: Dialect, tenants: set[str]) -> Script[dict[str, list[_Glossary]]]:
    """The live glossaries of these tenants, by tenant."""
    if not tenants:
        return {}
    rows = yield fetch(
        "SELECT tenant_id, id, name, current_version, is_default FROM glossary"
        f" WHERE {d.any('tenant_id')} AND deleted_at IS NULL ORDER BY id",
        d.array(sorted(tenants)),
    )
    found: dict[str, list[_Glossary]] = {}
    for tenant, gid, name, version, is_default in rows:
        found.setdefault(tenant, []).append(_Glossary(gid, name, version, bool(is_default)))
    return found


def _pin(live: Sequence[_Glossary], ref: str | None) -> _Glossary | None:
    """The request's glossary by name or id, else the tenant's default (None: none)."""
    for g in live:
        if (g.name == ref or g.id == ref) if ref else g.is_default:
            return g
    return None


def _republish(batch: _Batch, topic: str) -> Script[int]:
    """A duplicate of a finished request gets the stored events again, no upstream call;
    they carry the duplicate's trace context."""
    rows = yield fetch_each(OUTCOMES, [(job_id,) for job_id, _ in batch.republish])
    bodies: dict[str, list[Any]] = {}
    for job_id, outcome in rows:
        if outcome is not None and (body := orjson.loads(outcome)) is not None:
            bodies.setdefault(job_id, []).append(body)
    count = 0
    for job_id, arrival in batch.republish:
        r = arrival.request
        for body in bodies.get(job_id, []):
            event = outcome_event(
                body,
                topic=topic,
                tenant_id=r.tenant_id,
                request_id=r.request_id,
                trace=arrival.trace,
            )
            batch.events.append(event)
            count += 1
    return count


def _write(d: Dialect, batch: _Batch, now: datetime) -> Script[None]:
    if batch.jobs:
        yield many(INSERT_JOB, batch.jobs)
        yield many(INSERT_TARGET, batch.targets)
    if batch.events:
        rows = [row_values(d, e, headers_of(e, now), now) for e in batch.events]
        yield many(INSERT_OUTBOX, rows)
