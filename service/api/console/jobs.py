"""Console pages of a tenant's jobs: the list (filtered by state, language, days and request
id; paged), and one job's page with each language's segments, source beside translation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from service.api.console.job_view import language_view, sources_of
from service.api.console.render import page
from service.api.console.session import PREFIX, TenantDep, UserDep
from service.api.deps import TEXT_PATTERN, SessionDep
from service.api.problems import Problem
from service.api.routes.jobs import job_status
from service.api.routes.usage import DAY
from service.store import browse
from service.store import glossaries as repository

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}/jobs", include_in_schema=False)
RequestId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
LANG = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$|^(Pinyin|IPA)$"
PAGE = 50
Day = Annotated[str, Query(pattern=rf"{DAY}|^$")]


@router.get("")
async def job_list(
    request: Request,
    tenant: TenantDep,
    user: UserDep,
    session: SessionDep,
    state: Literal["", "queued", "running", "completed", "failed"] = "",
    lang: Annotated[str, Query(max_length=20, pattern=rf"{LANG}|^$")] = "",
    from_: Annotated[str, Query(alias="from", pattern=rf"{DAY}|^$")] = "",
    to: Day = "",
    request_id: Annotated[str, Query(max_length=200, pattern=TEXT_PATTERN)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    where = browse.JobFilter(
        state=state or None,
        target_lang=lang or None,
        first_day=_day("from", from_),
        last_day=_day("to", to),
        request_id=request_id.strip(),
    )
    found = await browse.jobs(session, tenant, where, offset=offset, limit=PAGE)
    filters = {"state": state, "lang": lang, "from": from_, "to": to, "request_id": request_id}
    return page(
        request,
        "jobs.html",
        user,
        tenant=tenant,
        jobs=found,
        filters=filters,
        states=browse.JOB_STATES,
        languages=await browse.job_languages(session, tenant),
        page_size=PAGE,
    )


def _day(name: str, value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        errors = [{"field": f"query.{name}", "message": f"{value!r} is not a day"}]
        raise Problem(422, "Unprocessable Content", f"{name}: not a day", errors=errors) from None


@router.get("/{request_id}")
async def job(
    request: Request, tenant: TenantDep, request_id: RequestId, user: UserDep, session: SessionDep
) -> Response:
    try:
        status = await job_status(session, tenant, request_id)
    except Problem as problem:
        if problem.status != 404:
            raise
        return page(request, "job_missing.html", user, 404, tenant=tenant, missing=request_id)
    pinned = status.glossary_id and await repository.find(session, tenant, status.glossary_id)
    doc = None
    if pinned and status.glossary_version:
        doc = await repository.document(session, pinned, status.glossary_version)
    stored = await browse.job_request(session, tenant, request_id)
    sources, fmt = sources_of(stored or {})
    views = [
        language_view(t.target_lang, t.state, t.result, sources, fmt, doc) for t in status.targets
    ]
    return page(
        request,
        "job.html",
        user,
        tenant=tenant,
        job=status,
        glossary=pinned or None,
        views=views,
        source_lang=(stored or {}).get("source_lang"),
    )
