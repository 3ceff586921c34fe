"""Signing in and out, the landing page, and the admin's tenant switcher."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.api.console.render import page, redirect
from service.api.console.session import (
    PREFIX,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SignInRequired,
    UserDep,
    check_csrf,
    set_cookie,
)
from service.api.deps import TENANT_PATTERN, ContextDep, SessionDep, authenticate
from service.store.tenants import known_tenants

router = APIRouter(prefix=PREFIX, include_in_schema=False)
# Where a sign-in may return to: a console path, never another site.
_NEXT = re.compile(r"^/console(/[A-Za-z0-9._~/-]*)?$")


@router.get("")
async def home(user: UserDep) -> Response:
    tenant = user.principal.tenant_id
    return redirect(f"/t/{tenant}/glossaries" if tenant else "/tenants")


@router.get("/sign-in")
async def sign_in_form(
    request: Request, next: Annotated[str, Query(max_length=300)] = PREFIX
) -> Response:
    return page(request, "sign_in.html", None, next=_safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request, ctx: ContextDep, session: SessionDep) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, form)
    token = form.get("token")
    next_path = _safe_next(str(form.get("next") or PREFIX))
    principal = await authenticate(ctx, session, token if isinstance(token, str) else None)
    if principal is None:
        error = "That token is not valid. Check it and try again."
        return page(request, "sign_in.html", None, 401, next=next_path, error=error)
    response = redirect(next_path.removeprefix(PREFIX))
    assert isinstance(token, str)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    if SESSION_COOKIE not in request.cookies:
        return redirect("/sign-in")  # nothing to end
    form = await request.form(max_files=0, max_fields=2)
    check_csrf(request, form)
    response = redirect("/sign-in", "signed-out")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/tenants")
async def tenants(request: Request, user: UserDep, session: SessionDep) -> Response:
    if not user.is_admin:
        return redirect(f"/t/{user.principal.tenant_id}/glossaries")
    names = set(await known_tenants(session)) | set(
        request.app.state.ctx.settings.api_tenant_tokens
    )
    return page(request, "tenants.html", user, tenants=sorted(names))


@router.get("/tenants/open")
async def open_tenant(
    user: UserDep,
    tenant: Annotated[str, Query(pattern=TENANT_PATTERN, description="Tenant id")],
) -> Response:
    """The admin's switcher (a GET form: it changes nothing, so it needs no CSRF value)."""
    return redirect(f"/t/{tenant}/glossaries")


def _safe_next(path: str) -> str:
    return path if _NEXT.fullmatch(path) and "//" not in path else PREFIX


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    """Answer for SignInRequired: 303 to the sign-in page, dropping a stale session cookie."""
    assert isinstance(exc, SignInRequired)
    target = "/sign-in" + (f"?next={exc.next_path}" if _NEXT.fullmatch(exc.next_path) else "")
    response = redirect(target)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
