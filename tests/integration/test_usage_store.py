"""The usage ledger and token budgets on both backends: written by the completion transaction
from its events, once per job; reservations one tenant at a time, also under 200 at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.pipeline.contract.messages import TranslationRequestV1
from service.pipeline.contract.outcomes import OutboundEvent, outcome_event
from service.pipeline.ports import Arrival, Completion, Held
from service.store import budgets as budget_sql
from service.store import usage
from service.store.budgets import SqlBudgets
from service.store.db import create_engine, session_factory
from service.store.driver import Database
from service.store.jobs import SqlJobStore
from service.store.tables import BudgetReservation
from tests.fixtures.databases import job_store

pytestmark = pytest.mark.postgres

OWNER = "w1"


def body(rid: str, lang: str, total: int = 10, kind: str = "completed", **usage_: Any) -> Any:
    common = {
        "event_id": f"{rid}-{lang}",
        "request_id": rid,
        "tenant_id": "acme",
        "source_lang": "en",
        "target_lang": lang,
    }
    if kind == "failed":
        return {**common, "type": "translation.failed", "error_code": "zai.server_error"}
    use = {"prompt_tokens": total - 4, "completion_tokens": 4, "total_tokens": total}
    use |= {"upstream_calls": 1, "source_chars": 5, **usage_}
    return {**common, "type": "translation.completed", "usage": use}


async def claimed(store: SqlJobStore, rid: str, langs: list[str]) -> str:
    req = TranslationRequestV1.model_validate(
        {"request_id": rid, "tenant_id": "acme", "target_langs": langs, "text": "Hello"}
    )
    await store.accept([Arrival(req, "requests", 0, 0, _no_conflict)], [], "results")
    (job,) = await store.claim(
        [c.job_id for c in await store.candidates(10) if c.job_id], OWNER, timedelta(seconds=60)
    )
    return job.id


def _no_conflict(stored_hash: str) -> OutboundEvent:
    raise AssertionError("each request id here is new")


def completion(job_id: str, bodies: list[Any], owner: str = OWNER) -> Completion:
    events = [outcome_event(b, topic="r", tenant_id="acme", request_id="x") for b in bodies]
    return Completion(job_id, owner, {b["target_lang"]: b for b in bodies}, events)


async def ledger(engine: AsyncEngine, group_by: Any = "pair") -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    async with engine.connect() as conn:
        return await usage.summary(
            conn, start=today - timedelta(days=1), end=today, group_by=group_by, tenant="acme"
        )


async def test_a_completion_adds_its_completed_events_once(
    engine: AsyncEngine, db: Database
) -> None:
    store = job_store(db)
    first = await claimed(store, "a", ["de", "fr"])
    bodies = [body("a", "de", 10, memory_hits=1), body("a", "fr", kind="failed")]
    assert await store.complete(completion(first, bodies))
    assert not await store.complete(completion(first, bodies))  # not held any more: nothing
    second = await claimed(store, "b", ["de"])
    await store.complete(completion(second, [body("b", "de", 7, estimate="characters")]))
    (row,) = await ledger(engine)
    assert (row["source_lang"], row["target_lang"], row["translations"]) == ("en", "de", 2)
    assert (row["total_tokens"], row["prompt_tokens"], row["completion_tokens"]) == (17, 9, 8)
    assert (row["upstream_calls"], row["memory_hits"], row["source_chars"]) == (2, 1, 10)
    assert row["character_estimates"] == 1
    (by_day,) = await ledger(engine, "day")
    assert by_day["day"] == datetime.now(UTC).date() and by_day["total_tokens"] == 17


async def test_a_completion_releases_the_jobs_reservation(
    engine: AsyncEngine, db: Database
) -> None:
    sessions = session_factory(engine)
    store, budgets = job_store(db), SqlBudgets(sessions)
    async with engine.begin() as conn:
        await budget_sql.set_budget(conn, "acme", 100)
    job_id = await claimed(store, "r", ["de", "fr"])
    granted, standing = await budgets.reserve("acme", job_id, 20, 2, "tokenizer")
    assert granted and standing is not None
    assert (standing.spent, standing.reserved, standing.held) == (0, 40, Held(20, "tokenizer"))
    again = await budgets.standing("acme", job_id)
    assert again is not None and again.held == Held(20, "tokenizer") and again.remaining == 60
    # Asking again (a restarted job) keeps the one reservation.
    assert (await budgets.reserve("acme", job_id, 20, 2, "tokenizer"))[0]
    await store.complete(completion(job_id, [body("r", "de", 15), body("r", "fr", 16)]))
    after = await budgets.standing("acme", job_id)
    assert after is not None and (after.spent, after.reserved, after.held) == (31, 0, None)
    async with session_factory(engine)() as s:
        assert (await s.exec(select(BudgetReservation))).all() == []


async def test_refused_when_what_is_left_does_not_cover_it(engine: AsyncEngine) -> None:
    budgets = SqlBudgets(session_factory(engine))
    assert await budgets.limit("acme") is None
    assert await budgets.reserve("acme", "j0", 10, 1, "tokenizer") == (True, None)  # no budget
    async with engine.begin() as conn:
        await budget_sql.set_budget(conn, "acme", 25)
    assert (await budgets.reserve("acme", "j1", 10, 2, "characters"))[0]
    granted, standing = await budgets.reserve("acme", "j2", 10, 1, "tokenizer")
    assert not granted and standing is not None and standing.remaining == 5
    async with engine.begin() as conn:
        assert await budget_sql.remove_budget(conn, "acme")
        assert not await budget_sql.remove_budget(conn, "acme")


async def test_spent_counts_this_month_only(engine: AsyncEngine, db: Database) -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    rows = usage.ledger_rows([body("old", "de", 500)], date(2026, 11, 30))
    rows += usage.ledger_rows([body("new", "de", 40)], date(2026, 12, 1))
    await db.run(usage.add(db.dialect, rows))
    async with engine.begin() as conn:
        await budget_sql.set_budget(conn, "acme", 100)
        standing = (await budget_sql.standings(conn, now))["acme"]
    assert (standing.limit, standing.spent, standing.reserved) == (100, 40, 0)


async def test_two_hundred_reservations_at_once_never_overshoot(db_url: str) -> None:
    # Two engines stand for two worker processes (two pools, two SQLite connections).
    engines = [create_engine(db_url), create_engine(db_url)]
    from service.store.migrate import upgrade

    await upgrade(engines[0])
    async with engines[0].begin() as conn:
        await budget_sql.set_budget(conn, "acme", 500)
    budgets = [SqlBudgets(session_factory(e)) for e in engines]
    results = await asyncio.gather(
        *(budgets[i % 2].reserve("acme", f"job-{i}", 7, 1, "tokenizer") for i in range(200))
    )
    granted = sum(ok for ok, _ in results)
    async with engines[1].connect() as conn:
        standing = (await budget_sql.standings(conn, datetime.now(UTC)))["acme"]
    assert granted == 500 // 7 == 71
    assert standing.reserved == 71 * 7 <= 500
    for engine in engines:
        await engine.dispose()
