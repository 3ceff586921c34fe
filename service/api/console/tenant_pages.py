"""Console pages of a tenant beyond its glossaries: a job by request id, and the settings with
the connection status. They read through the same functions as the REST routes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError

from service.api.connection import connection_status
from service.api.console.glossaries import read_form
from service.api.console.render import page, redirect
from service.api.console.session import PREFIX, TenantDep, UserDep
from service.api.deps import SessionDep
from service.api.problems import Problem
from service.api.routes.jobs import job_status
from service.api.routes.settings import SettingsIn, read_settings, write_settings
from service.store import glossaries as repository

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}", include_in_schema=False)
RequestId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
POLICIES = ("report", "retry", "fail")


@router.get("/jobs")
async def find_job(
    request: Request,
    tenant: TenantDep,
    user: UserDep,
    request_id: Annotated[str, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = "",
) -> Response:
    """The lookup form; with a request id, the job's page (a GET form changes nothing)."""
    if request_id.strip():
        return redirect(f"/t/{tenant}/jobs/{quote(request_id.strip(), safe='')}")
    return page(request, "jobs.html", user, tenant=tenant)


@router.get("/jobs/{request_id}")
async def job(
    request: Request, tenant: TenantDep, request_id: RequestId, user: UserDep, session: SessionDep
) -> Response:
    try:
        status = await job_status(session, tenant, request_id)
    except Problem as problem:
        if problem.status != 404:
            raise
        return page(request, "jobs.html", user, 404, tenant=tenant, missing=request_id)
    pinned = status.glossary_id and await repository.find(session, tenant, status.glossary_id)
    return page(request, "job.html", user, tenant=tenant, job=status, glossary=pinned or None)


@router.get("/settings")
async def settings_page(
    request: Request, tenant: TenantDep, user: UserDep, session: SessionDep
) -> Response:
    return page(
        request,
        "settings.html",
        user,
        tenant=tenant,
        settings=await read_settings(session, tenant),
        connection=await connection_status(session, tenant),
        policies=POLICIES,
        service_policy=request.app.state.ctx.settings.qa_glossary_policy,
    )


@router.post("/settings")
async def save_settings(request: Request, tenant: TenantDep, session: SessionDep) -> Response:
    form = await read_form(request)
    try:  # the REST API's own model decides what is valid
        body = SettingsIn.model_validate(
            {"qa_glossary_policy": form.get("qa_glossary_policy") or None}
        )
    except ValidationError:
        raise Problem(
            422, "Unprocessable Content", f"the policy must be one of {POLICIES}"
        ) from None
    await write_settings(session, tenant, body)
    return redirect(f"/t/{tenant}/settings", "settings-saved")
