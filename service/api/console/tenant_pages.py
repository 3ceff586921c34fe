"""The console's settings page of a tenant, with the connection status. It reads through the
same functions as the REST routes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from service.api.connection import connection_status
from service.api.console.glossaries import read_form
from service.api.console.render import page, redirect
from service.api.console.session import PREFIX, TenantDep, UserDep
from service.api.deps import SessionDep
from service.api.problems import Problem
from service.api.routes.settings import SettingsIn, read_settings, write_settings

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}", include_in_schema=False)
POLICIES = ("report", "retry", "fail")


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
