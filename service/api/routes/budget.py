"""A tenant's monthly token budget (docs/usage.md): set and removed by an admin, read by the
tenant too, with what this month has spent and what jobs in flight have reserved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from service.api.deps import AdminDep, SessionDep, TenantDep
from service.api.problems import not_found, responses
from service.store import budgets
from service.store.db import Session

router = APIRouter(
    prefix="/v1/tenants/{tenant}/budget", tags=["budget"], responses=responses(401, 404, 422)
)


def integral(value: object) -> object:
    """JSON Schema's integer includes 100.0; strict mode still refuses "100" and 1.5."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    monthly_tokens: Annotated[int, BeforeValidator(integral)] = Field(
        ge=1, le=10**15, description="Tokens (prompt + completion) per calendar month, UTC"
    )


class BudgetOut(BaseModel):
    tenant_id: str
    monthly_tokens: int | None = Field(description="None: no budget, nothing is refused")
    month: str = Field(description="The calendar month (UTC) the figures are for, YYYY-MM")
    spent_tokens: int = Field(description="total_tokens of this month's usage ledger")
    reserved_tokens: int = Field(description="Held by admitted jobs not yet completed")
    remaining_tokens: int | None
    spent_ratio: float | None = Field(description="spent / budget; the alert fires at 0.8")


@router.get("", response_model=BudgetOut)
async def get_budget(tenant: TenantDep, session: SessionDep) -> BudgetOut:
    return await standing(session, tenant)


@router.put("", response_model=BudgetOut, responses=responses(400, 403))
async def put_budget(
    body: BudgetIn, tenant: TenantDep, session: SessionDep, _: AdminDep
) -> BudgetOut:
    """Applies to jobs claimed within 10 s (workers cache budgets that long)."""
    await budgets.put(session, tenant, body.monthly_tokens)
    return await standing(session, tenant)


@router.delete("", status_code=204, responses=responses(403))
async def delete_budget(tenant: TenantDep, session: SessionDep, _: AdminDep) -> Response:
    if not await budgets.remove(session, tenant):
        raise not_found("budget")
    return Response(status_code=204)


async def standing(session: Session, tenant: str) -> BudgetOut:
    now = datetime.now(UTC)
    found, spent = await budgets.month(session, tenant, now)
    if found is None:  # no budget: still show what this month has spent
        return BudgetOut(
            tenant_id=tenant,
            monthly_tokens=None,
            month=f"{now:%Y-%m}",
            spent_tokens=spent,
            reserved_tokens=0,
            remaining_tokens=None,
            spent_ratio=None,
        )
    return BudgetOut(
        tenant_id=tenant,
        monthly_tokens=found.limit,
        month=f"{now:%Y-%m}",
        spent_tokens=found.spent,
        reserved_tokens=found.reserved,
        remaining_tokens=found.remaining,
        spent_ratio=round(found.spent / found.limit, 6),
    )
