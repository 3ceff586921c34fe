"""Monthly token budgets in the database (the Budgets port), and their standing for the API.

A month is a calendar month in UTC. What a tenant has spent is this month's `total_tokens` in
the usage ledger; what it has reserved, the rows of `budget_reservation` (jobs admitted and not
completed). A reservation is made in one transaction that first updates the tenant's
`tenant_budget` row: on PostgreSQL that row lock, on SQLite the database's write lock, makes
reservations of one tenant one at a time, and each reads the sums only once it holds the lock,
so it sees every reservation and every completion committed before it. Completions do not
take the lock: one committing mid-way moves tokens from `reserved` to `spent` in one
transaction, and `spent` and `reserved` are read by one statement (one snapshot).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime

from cachetools import TTLCache
from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.pipeline.ports import EstimateMethod, Held, Standing
from service.store.errors import store_call
from service.store.tables import TenantBudget, utcnow
from service.store.usage import LEDGER, RESERVATION

BUDGET = TenantBudget.__table__  # type: ignore[attr-defined]
CACHE_TTL = 10.0  # a new or changed budget applies to jobs claimed from then on


def month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


def _spent(tenant: ColumnElement[str], since: date) -> ColumnElement[int]:
    total = func.coalesce(func.sum(LEDGER.c.total_tokens), 0)
    query = select(total).where(LEDGER.c.tenant_id == tenant, LEDGER.c.day >= since)
    return query.scalar_subquery()


def _reserved(tenant: ColumnElement[str]) -> ColumnElement[int]:
    total = func.coalesce(func.sum(RESERVATION.c.tokens), 0)
    return select(total).where(RESERVATION.c.tenant_id == tenant).scalar_subquery()


async def standings(
    conn: AsyncConnection, now: datetime, tenant: str | None = None
) -> dict[str, Standing]:
    """Every budget's standing (or one tenant's), each read in one statement."""
    query = select(
        BUDGET.c.tenant_id,
        BUDGET.c.monthly_tokens,
        _spent(BUDGET.c.tenant_id, month_start(now)),
        _reserved(BUDGET.c.tenant_id),
    )
    if tenant is not None:
        query = query.where(BUDGET.c.tenant_id == tenant)
    rows = await conn.execute(query.order_by(BUDGET.c.tenant_id))
    return {t: Standing(int(limit), int(spent), int(held)) for t, limit, spent, held in rows}


async def set_budget(conn: AsyncConnection, tenant: str, monthly_tokens: int) -> None:
    updated = await conn.execute(
        update(BUDGET)
        .where(BUDGET.c.tenant_id == tenant)
        .values(monthly_tokens=monthly_tokens, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        await conn.execute(
            insert(BUDGET).values(
                tenant_id=tenant, monthly_tokens=monthly_tokens, updated_at=utcnow()
            )
        )


async def remove_budget(conn: AsyncConnection, tenant: str) -> bool:
    """No budget any more; reservations of jobs in flight are released by their completions."""
    return (await conn.execute(delete(BUDGET).where(BUDGET.c.tenant_id == tenant))).rowcount > 0


# --- the admin API's (a session each, committed) --------------------------------------------


async def put(session: AsyncSession, tenant: str, monthly_tokens: int) -> None:
    await set_budget(await session.connection(), tenant, monthly_tokens)
    await session.commit()


async def remove(session: AsyncSession, tenant: str) -> bool:
    removed = await remove_budget(await session.connection(), tenant)
    await session.commit()
    return removed


async def month(session: AsyncSession, tenant: str, now: datetime) -> tuple[Standing | None, int]:
    """The tenant's standing this month; without a budget, None and what the month has spent."""
    conn = await session.connection()
    found = (await standings(conn, now, tenant)).get(tenant)
    if found is not None:
        return found, found.spent
    query = select(LEDGER.c.total_tokens).where(
        LEDGER.c.tenant_id == tenant, LEDGER.c.day >= month_start(now)
    )
    return None, sum(int(t) for t in (await conn.execute(query)).scalars())


class SqlBudgets:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._limits: TTLCache[str, int | None] = TTLCache(maxsize=10_000, ttl=CACHE_TTL)
        self._loading: dict[str, asyncio.Future[int | None]] = {}

    async def limit(self, tenant_id: str) -> int | None:
        """Cached; when the entry expires, one query however many jobs ask meanwhile (all
        jobs in flight of a tenant asked at once, every `CACHE_TTL` seconds)."""
        if tenant_id in self._limits:
            return self._limits[tenant_id]
        loading = self._loading.get(tenant_id)
        if loading is None:
            loading = self._loading[tenant_id] = asyncio.ensure_future(self._load(tenant_id))
            loading.add_done_callback(lambda f: self._loaded(tenant_id, f))
        return await asyncio.shield(loading)

    def _loaded(self, tenant_id: str, future: asyncio.Future[int | None]) -> None:
        self._loading.pop(tenant_id, None)
        if not future.cancelled():
            future.exception()  # retrieved, so a failure nobody awaits any more is not logged

    @store_call
    async def _load(self, tenant_id: str) -> int | None:
        async with self._sessions() as s:
            conn = await s.connection()
            query = select(BUDGET.c.monthly_tokens).where(BUDGET.c.tenant_id == tenant_id)
            value: int | None = (await conn.execute(query)).scalar_one_or_none()
        self._limits[tenant_id] = value
        return value

    @store_call
    async def standing(self, tenant_id: str, job_id: str) -> Standing | None:
        async with self._sessions() as s:
            return await self._standing(await s.connection(), tenant_id, job_id)

    @store_call
    async def reserve(
        self,
        tenant_id: str,
        job_id: str,
        per_language: int,
        languages: int,
        method: EstimateMethod,
    ) -> tuple[bool, Standing | None]:
        async with self._sessions() as s:
            conn = await s.connection()
            # The tenant's lock: a no-op update of its budget row (see the module docstring).
            locked = await conn.execute(
                update(BUDGET)
                .where(BUDGET.c.tenant_id == tenant_id)
                .values(monthly_tokens=BUDGET.c.monthly_tokens)
                .returning(BUDGET.c.tenant_id)
            )
            if locked.scalar_one_or_none() is None:
                return True, None  # no budget (any more): nothing to reserve
            standing = await self._standing(conn, tenant_id, job_id)
            tokens = per_language * languages
            if standing is None or standing.held is not None:
                return True, standing
            if standing.remaining < tokens:
                return False, standing
            await conn.execute(
                insert(RESERVATION).values(
                    job_id=job_id,
                    tenant_id=tenant_id,
                    tokens=tokens,
                    per_language=per_language,
                    method=method,
                    created_at=self._clock(),
                )
            )
            await s.commit()
        held = Held(per_language, method)
        return True, Standing(standing.limit, standing.spent, standing.reserved + tokens, held)

    @store_call
    async def overview(self) -> dict[str, Standing]:
        """Every tenant's budget standing now (the worker's budget gauges)."""
        async with self._sessions() as s:
            return await standings(await s.connection(), self._clock())

    async def _standing(
        self, conn: AsyncConnection, tenant_id: str, job_id: str
    ) -> Standing | None:
        found = (await standings(conn, self._clock(), tenant_id)).get(tenant_id)
        if found is None:
            return None
        query = select(RESERVATION.c.per_language, RESERVATION.c.method).where(
            RESERVATION.c.job_id == job_id
        )
        row = (await conn.execute(query)).first()
        held = Held(int(row.per_language), row.method) if row is not None else None
        return Standing(found.limit, found.spent, found.reserved, held)
