"""A request_id reused with other content is dead-lettered (`request.conflict`) and the original
job stays as it was; the same content stays a duplicate. Intake and SQL store together, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from service.metrics import Metrics
from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.jobs.intake import Intake, IntakeConfig, Message
from service.store.db import session_factory
from service.store.driver import Database
from service.store.tables import Job, OutboxEvent
from tests.fixtures.databases import job_store

pytestmark = pytest.mark.postgres


def body(rid: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"request_id": rid, "tenant_id": "acme", "target_langs": ["de"], "text": text, **extra}


def messages(*bodies: dict[str, Any], first_offset: int = 0) -> list[Message]:
    return [
        Message("requests", 0, first_offset + i, b"acme", {}, json.dumps(b).encode())
        for i, b in enumerate(bodies)
    ]


def digest(b: dict[str, Any]) -> str:
    return TranslationRequestV1.model_validate(b).content_hash()


def intake(db: Database) -> Intake:
    return Intake(job_store(db), Metrics(), IntakeConfig("results", "dlq"))


async def letters(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with session_factory(engine)() as s:
        rows = (await s.exec(select(OutboxEvent).where(OutboxEvent.topic == "dlq"))).all()
    return [r.payload for r in rows]


async def jobs(engine: AsyncEngine) -> list[Job]:
    async with session_factory(engine)() as s:
        return list((await s.exec(select(Job))).all())


async def test_conflict_in_one_batch_and_across_batches(engine: AsyncEngine, db: Database) -> None:
    a, b = body("c1", "Your invoice"), body("c1", "Your receipt")
    got = await intake(db).accept(messages(a, b, {**a, "metadata": {"retry": 1}}))
    assert (got.created, got.duplicates, got.conflicts) == (1, 1, 1)
    got = await intake(db).accept(messages(b, a, first_offset=3))
    assert (got.created, got.duplicates, got.conflicts) == (0, 1, 1)

    (job,) = await jobs(engine)
    assert job.request["text"] == "Your invoice" and job.request_hash == digest(a)
    assert (job.state, job.source_offset, job.attempts) == ("queued", 0, 0)
    dead = await letters(engine)
    assert [(d["reason"], d["source_offset"]) for d in dead] == [
        ("request.conflict", 1),
        ("request.conflict", 3),
    ]
    assert all(digest(a) in d["detail"] and digest(b) in d["detail"] for d in dead)


async def test_same_content_of_a_finished_job_is_republished_other_content_is_not(
    engine: AsyncEngine, db: Database
) -> None:
    a, b = body("c2", "Your invoice"), body("c2", "Your receipt")
    await intake(db).accept(messages(a))
    async with session_factory(engine)() as s:
        await s.exec(update(Job).values(state="done"))  # type: ignore[call-overload]
        await s.commit()
    got = await intake(db).accept(messages(b, first_offset=1))
    assert (got.duplicates, got.conflicts, got.republished) == (0, 1, 0)


async def test_two_writers_racing_with_different_content_make_one_job_and_one_conflict(
    engine: AsyncEngine, db: Database
) -> None:
    a, b = body("c3", "Your invoice"), body("c3", "Your receipt")
    results = await asyncio.gather(
        intake(db).accept(messages(a)), intake(db).accept(messages(b, first_offset=1))
    )
    assert sum(r.created for r in results) == 1
    assert sum(r.conflicts for r in results) == 1
    (job,) = await jobs(engine)
    winner = a if job.request["text"] == "Your invoice" else b
    assert job.request_hash == digest(winner)
    (dead,) = await letters(engine)
    assert dead["reason"] == "request.conflict"


async def test_a_job_from_before_the_hash_column_counts_as_a_duplicate(
    engine: AsyncEngine, db: Database
) -> None:
    await intake(db).accept(messages(body("c4", "Your invoice")))
    async with session_factory(engine)() as s:
        await s.exec(update(Job).values(request_hash=None))  # type: ignore[call-overload]
        await s.commit()
    got = await intake(db).accept(messages(body("c4", "Other"), first_offset=1))
    assert (got.duplicates, got.conflicts) == (1, 0)
