"""The usage ledger: written in each job's completion transaction, read by the usage API.

`record` is the ledger's whole share of a completion (service.store.writes): two statements
whatever the batch size, in that transaction. It adds the `usage` of the completed events
the transaction puts in the outbox, so the ledger and the events cannot disagree (a completion
commits both or neither, and is made once per job: only by the worker still holding it), and
it releases the jobs' budget reservations in the same breath.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import RowMapping, func, select

from service.pipeline.contract.messages import TYPE_COMPLETED
from service.pipeline.ports import Completion
from service.store.db import Db, connection_of
from service.store.driver import Dialect, Script, execute, many
from service.store.tables import BudgetReservation, UsageLedger

LEDGER = UsageLedger.__table__  # type: ignore[attr-defined]
RESERVATION = BudgetReservation.__table__  # type: ignore[attr-defined]
KEY = ("tenant_id", "day", "source_lang", "target_lang")
#: Ledger columns summed straight from `usage` of each completed event.
FROM_USAGE = (
    "upstream_calls",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "source_chars",
    "memory_hits",
    "packed_calls_saved",
    "estimated_tokens",
)
COUNTERS = ("translations", *FROM_USAGE, "character_estimates")
GroupBy = Literal["tenant", "day", "pair"]


def record(d: Dialect, completions: Sequence[Completion], now: datetime) -> Script[None]:
    """Release the jobs' reservations and add their completed events' usage (UTC day `now`)."""
    if not completions:
        return
    ids = d.array([c.job_id for c in completions])
    yield execute(f"DELETE FROM budget_reservation WHERE {d.any('job_id')}", ids)
    yield from add(d, ledger_rows([e.payload for c in completions for e in c.events], now.date()))


def add(d: Dialect, rows: Sequence[Mapping[str, Any]]) -> Script[None]:
    """Add `ledger_rows` to the ledger."""
    if rows:
        values = [(r["tenant_id"], d.day(r["day"]), *(r[k] for k in _VALUES)) for r in rows]
        yield many(_ADD, values)


def ledger_rows(bodies: Sequence[Mapping[str, Any]], day: date) -> list[dict[str, Any]]:
    """One row per (tenant, day, pair): the sums of the completed events among `bodies`, in
    key order (so concurrent completions lock ledger rows in one order)."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for body in bodies:
        if body.get("type") != TYPE_COMPLETED:
            continue
        key = (body["tenant_id"], body["source_lang"], body["target_lang"])
        row = rows.setdefault(key, dict(zip(KEY, (key[0], day, *key[1:]), strict=True)))
        usage = body.get("usage") or {}
        row["translations"] = row.get("translations", 0) + 1
        for name in FROM_USAGE:
            row[name] = row.get(name, 0) + int(usage.get(name) or 0)
        estimated = usage.get("estimate") == "characters"
        row["character_estimates"] = row.get("character_estimates", 0) + int(estimated)
    return [rows[key] for key in sorted(rows)]


_VALUES = ("source_lang", "target_lang", *COUNTERS)
# INSERT … ON CONFLICT (the key) DO UPDATE adding each counter: the same on both databases.
_ADD = (
    f"INSERT INTO usage_ledger ({', '.join((*KEY, *COUNTERS))})"
    f" VALUES ({', '.join('?' * (len(KEY) + len(COUNTERS)))})"
    f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = usage_ledger.{c} + excluded.{c}" for c in COUNTERS)
)


async def summary(
    db: Db,
    *,
    start: date,
    end: date,
    group_by: GroupBy,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """Sums over `start`..`end` (inclusive) per tenant, per day or per pair; with `tenant`,
    only its rows (and no tenant column when grouping by day or pair)."""
    conn = await connection_of(db)
    keys = {
        "tenant": [LEDGER.c.tenant_id],
        "day": [LEDGER.c.day],
        "pair": [LEDGER.c.source_lang, LEDGER.c.target_lang],
    }[group_by]
    if tenant is None and group_by != "tenant":
        keys = [LEDGER.c.tenant_id, *keys]
    sums = [func.sum(LEDGER.c[name]).label(name) for name in COUNTERS]
    query = select(*keys, *sums).where(LEDGER.c.day.between(start, end)).group_by(*keys)
    if tenant is not None:
        query = query.where(LEDGER.c.tenant_id == tenant)
    rows = await conn.execute(query.order_by(*keys))
    return [_plain(row) for row in rows.mappings()]


async def ledger(
    db: Db, *, start: date, end: date, tenant: str | None = None
) -> list[dict[str, Any]]:
    """The ledger's rows over `start`..`end`, in key order (the CSV export)."""
    conn = await connection_of(db)
    query = select(LEDGER).where(LEDGER.c.day.between(start, end))
    if tenant is not None:
        query = query.where(LEDGER.c.tenant_id == tenant)
    rows = await conn.execute(query.order_by(*(LEDGER.c[k] for k in KEY)))
    return [_plain(row) for row in rows.mappings()]


def _plain(row: RowMapping) -> dict[str, Any]:
    # SUM over BIGINT is NUMERIC on PostgreSQL: back to int.
    return {str(k): int(v) if k in COUNTERS else v for k, v in row.items()}
