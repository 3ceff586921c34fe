"""The console's usage page: tokens and calls per day and per language pair as charts, the
monthly budget and how much of it is spent, and the ledger as CSV. Read through the usage
API's own functions (same period rules, same sums)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from service.api.console.chart import Chart, bar_chart
from service.api.console.render import page
from service.api.console.session import PREFIX, TenantDep, UserDep
from service.api.deps import SessionDep
from service.api.routes.budget import standing
from service.api.routes.usage import DAY, csv_response, period
from service.store import usage

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}/usage", include_in_schema=False)
Day = Annotated[str, Query(pattern=rf"{DAY}|^$")]


@router.get("")
async def usage_page(
    request: Request,
    tenant: TenantDep,
    user: UserDep,
    session: SessionDep,
    from_: Annotated[str, Query(alias="from", pattern=rf"{DAY}|^$")] = "",
    to: Day = "",
) -> Response:
    start, end = period(from_ or None, to or None)
    days = await usage.summary(session, start=start, end=end, group_by="day", tenant=tenant)
    pairs = await usage.summary(session, start=start, end=end, group_by="pair", tenant=tenant)
    by_day = {row["day"]: row for row in days}
    every_day = [start.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    day_rows = [by_day.get(d) or _empty(d) for d in every_day]
    pair_label = [f"{r['source_lang']}→{r['target_lang']}" for r in pairs]
    return page(
        request,
        "usage.html",
        user,
        tenant=tenant,
        start=start,
        end=end,
        days=day_rows,
        pairs=list(zip(pair_label, pairs, strict=True)),
        charts=[
            bar_chart("Tokens per day", [(f"{r['day']:%d}", r["total_tokens"]) for r in day_rows]),
            bar_chart("Calls per day", [(f"{r['day']:%d}", r["upstream_calls"]) for r in day_rows]),
            bar_chart(
                "Tokens per language pair",
                list(zip(pair_label, _col(pairs, "total_tokens"), strict=True)),
            ),
            bar_chart(
                "Calls per language pair",
                list(zip(pair_label, _col(pairs, "upstream_calls"), strict=True)),
            ),
        ],
        budget=await standing(session, tenant),
        totals={name: sum(r[name] for r in days) for name in usage.COUNTERS},
    )


def _charts(
    days: list[dict[str, Any]], pair_labels: list[str], pairs: list[dict[str, Any]]
) -> list[Chart]:
    """Tokens and calls per day (labelled by day of month) and per pair."""
    day_labels = [f"{r['day']:%d}" for r in days]
    return [
        bar_chart(title, list(zip(labels, _col(rows, name), strict=True)))
        for title, labels, rows, name in (
            ("Tokens per day", day_labels, days, "total_tokens"),
            ("Calls per day", day_labels, days, "upstream_calls"),
            ("Tokens per language pair", pair_labels, pairs, "total_tokens"),
            ("Calls per language pair", pair_labels, pairs, "upstream_calls"),
        )
    ]


def _empty(day: Any) -> dict[str, Any]:
    return {"day": day, **dict.fromkeys(usage.COUNTERS, 0)}


def _col(rows: list[dict[str, Any]], name: str) -> list[int]:
    return [int(r[name]) for r in rows]


@router.get("/export")
async def usage_export(
    tenant: TenantDep,
    session: SessionDep,
    from_: Annotated[str, Query(alias="from", pattern=rf"{DAY}|^$")] = "",
    to: Day = "",
) -> Response:
    """The REST API's CSV export of the tenant's ledger rows (per day and pair)."""
    start, end = period(from_ or None, to or None)
    rows = await usage.ledger(session, start=start, end=end, tenant=tenant)
    return csv_response(rows, f"usage-{tenant}-{start}-{end}.csv")
