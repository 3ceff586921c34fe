"""What tenants used (the usage ledger, docs/usage.md): per tenant (tenant or admin token),
across tenants (admin), and as CSV for billing. Days are UTC; `from` and `to` are inclusive."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from service.api.deps import TENANT_PATTERN, AdminDep, SessionDep, TenantDep
from service.api.problems import Problem, responses
from service.store import usage
from service.store.usage import COUNTERS, KEY

router = APIRouter(tags=["usage"], responses=responses(401, 404, 422))
MAX_DAYS = 366

# Days as ISO strings, parsed here: a `date` parameter would also take "0" (a Unix time).
DAY = r"^\d{4}-\d{2}-\d{2}$"
From = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=DAY,
        json_schema_extra={"format": "date"},
        description="First day (UTC); default: the 1st of this month",
    ),
]
To = Annotated[
    str | None,
    Query(
        pattern=DAY,
        json_schema_extra={"format": "date"},
        description="Last day (UTC), inclusive; default: today",
    ),
]


class UsageCounts(BaseModel):
    translations: int = Field(description="Completed (request, target language) pairs")
    upstream_calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    source_chars: int
    memory_hits: int
    packed_calls_saved: int
    estimated_tokens: int = Field(description="Tokens the budget checks reserved for them")
    character_estimates: int = Field(
        description="Of the translations, those whose estimate was made from characters "
        "because Z.ai's tokenizer did not answer"
    )


class UsageRow(UsageCounts):
    tenant_id: str | None = None
    day: date | None = None
    source_lang: str | None = None
    target_lang: str | None = None


class UsageReport(BaseModel):
    tenant_id: str | None = Field(description="None: every tenant (the admin view)")
    from_: date = Field(alias="from")
    to: date
    group_by: str
    rows: list[UsageRow]
    totals: UsageCounts


@router.get("/v1/tenants/{tenant}/usage", response_model=UsageReport, response_model_by_alias=True)
async def tenant_usage(
    tenant: TenantDep,
    session: SessionDep,
    from_: From = None,
    to: To = None,
    group_by: Literal["day", "pair"] = "day",
) -> UsageReport:
    start, end = period(from_, to)
    rows = await usage.summary(session, start=start, end=end, group_by=group_by, tenant=tenant)
    return _report(tenant, start, end, group_by, rows)


@router.get(
    "/v1/usage", response_model=UsageReport, response_model_by_alias=True, responses=responses(403)
)
async def all_usage(
    session: SessionDep,
    _: AdminDep,
    from_: From = None,
    to: To = None,
    group_by: Literal["tenant", "day", "pair"] = "tenant",
) -> UsageReport:
    """Every tenant: one row per tenant, or per tenant and day, or per tenant and pair."""
    start, end = period(from_, to)
    rows = await usage.summary(session, start=start, end=end, group_by=group_by)
    return _report(None, start, end, group_by, rows)


@router.get("/v1/tenants/{tenant}/usage/export", response_class=Response)
async def export_tenant_usage(
    tenant: TenantDep, session: SessionDep, from_: From = None, to: To = None
) -> Response:
    """The tenant's ledger rows (per day and pair) as CSV."""
    start, end = period(from_, to)
    rows = await usage.ledger(session, start=start, end=end, tenant=tenant)
    return csv_response(rows, f"usage-{tenant}-{start}-{end}.csv")


@router.get("/v1/usage/export", response_class=Response, responses=responses(403))
async def export_usage(
    session: SessionDep,
    _: AdminDep,
    from_: From = None,
    to: To = None,
    tenant: Annotated[str | None, Query(pattern=TENANT_PATTERN)] = None,
) -> Response:
    """Every tenant's ledger rows (per tenant, day and pair) as CSV: the billing export."""
    start, end = period(from_, to)
    rows = await usage.ledger(session, start=start, end=end, tenant=tenant)
    return csv_response(rows, f"usage-{tenant or 'all'}-{start}-{end}.csv")


def period(first: str | None, last: str | None) -> tuple[date, date]:
    """The days asked for; from after to, over MAX_DAYS, or a day that does not exist is 422
    (rules the OpenAPI schema cannot state)."""
    end = _day("to", last) or datetime.now(UTC).date()
    start = _day("from", first) or end.replace(day=1)
    if start > end:
        raise _bad("from", "must not be after 'to'")
    if (end - start).days >= MAX_DAYS:
        raise _bad("from", f"the period may span at most {MAX_DAYS} days")
    return start, end


def _day(field: str, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value is not None else None
    except ValueError:
        raise _bad(field, f"{value!r} is not a day (YYYY-MM-DD)") from None


def _bad(field: str, message: str) -> Problem:
    errors = [{"field": f"query.{field}", "message": message}]
    return Problem(422, "Unprocessable Content", f"{field}: {message}", errors=errors)


def _report(
    tenant: str | None, start: date, end: date, group_by: str, rows: list[dict[str, Any]]
) -> UsageReport:
    totals = {name: sum(row[name] for row in rows) for name in COUNTERS}
    return UsageReport.model_validate(
        {
            "tenant_id": tenant,
            "from": start,
            "to": end,
            "group_by": group_by,
            "rows": rows,
            "totals": totals,
        }
    )


def csv_response(rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*KEY, *COUNTERS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
