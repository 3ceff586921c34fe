"""Console pages of a tenant's glossaries: list and upload, browse and search, compare, export,
set the default, delete. Every change goes through `glossary_ops`, as the REST routes' do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.datastructures import FormData

from service.api import glossary_ops as ops
from service.api.console.render import page, redirect
from service.api.console.session import PREFIX, ConsoleUser, TenantDep, UserDep, check_csrf
from service.api.deps import TEXT_PATTERN, ContextDep, SessionDep
from service.api.glossary_input import NAME_PATTERN, check_declared_size, read_upload
from service.api.problems import Problem, not_found
from service.glossary.diff import diff, search
from service.glossary.encoding import UTF8
from service.store import glossaries as repository
from service.store.db import Session
from service.store.tables import Glossary, GlossaryVersion

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}/glossaries", include_in_schema=False)
GlossaryRef = Annotated[str, Path(pattern=NAME_PATTERN)]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
PAGE = 50
# Statuses an upload answers for the uploader to fix: shown on the form, not as an error page.
_FIXABLE = {400, 409, 413, 415, 422}


async def read_form(request: Request, *, max_files: int = 0, max_fields: int = 20) -> FormData:
    """The posted form, after its CSRF value was checked (403 otherwise)."""
    form = await request.form(max_files=max_files, max_fields=max_fields)
    check_csrf(request, form)
    return form


def kicker(request: Request) -> ops.Kick:
    relay = getattr(request.app.state, "outbox", None)
    return relay.kick if relay is not None else ops.no_kick


@router.get("")
async def list_page(
    request: Request, tenant: TenantDep, user: UserDep, session: SessionDep
) -> Response:
    return await _list(request, user, session, tenant)


async def _list(
    request: Request,
    user: ConsoleUser,
    session: Session,
    tenant: str,
    status: int = 200,
    **context: object,
) -> Response:
    glossaries = await repository.list_live(session, tenant)
    return page(
        request, "glossaries.html", user, status, tenant=tenant, glossaries=glossaries, **context
    )


@router.post("")
async def upload(
    request: Request, tenant: TenantDep, user: UserDep, session: SessionDep, ctx: ContextDep
) -> Response:
    """Create a glossary, or add a version to one of the same name (fix and upload again)."""
    limits = ops.limits_of(ctx.settings)
    check_declared_size(request, limits)
    form = await read_form(request, max_files=1, max_fields=10)
    try:
        got = await read_upload(request, limits)  # the form read above, parsed by the API's rules
        if got.name is None:
            raise Problem(
                422, "A name is required", errors=[{"field": "name", "message": "required"}]
            )
        saved = await ops.save(
            session,
            ctx.settings,
            tenant=tenant,
            name=got.name,
            doc=got.doc,
            author=user.principal.token_id,
            is_default=got.is_default,
            kick=kicker(request),
        )
    except Problem as problem:
        if problem.status not in _FIXABLE:
            raise
        name = form.get("name")
        return await _list(
            request, user, session, tenant, problem.status, problem=problem, name=name
        )
    notice = "uploaded" if saved.created else "unchanged"
    if got.encoding not in (None, UTF8):  # say which encoding was assumed (a codec name)
        notice = f"{notice}&encoding={got.encoding}"
    return redirect(f"/t/{tenant}/glossaries/{saved.glossary.name}", notice)


@router.get("/{glossary}")
async def detail(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    user: UserDep,
    session: SessionDep,
    v: VersionQuery = None,
    q: Annotated[str, Query(max_length=200, pattern=TEXT_PATTERN)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    found = await ops.find(session, tenant, glossary)
    versions = await repository.versions(session, found.id)
    shown = _version(versions, v or found.current_version)
    if q:
        doc = await repository.document(session, found, shown.version)
        hits = search(doc.entries, q)
        entries, total = hits[offset : offset + PAGE], len(hits)
    else:
        assert shown.id is not None
        entries, total = await repository.entries_page(session, shown.id, offset=offset, limit=PAGE)
    return page(
        request,
        "glossary.html",
        user,
        tenant=tenant,
        glossary=found,
        versions=list(reversed(versions)),
        shown=shown,
        entries=entries,
        total=total,
        q=q,
        offset=offset,
        page_size=PAGE,
        target_langs=[lang for lang in shown.languages if lang != shown.source_lang],
    )


def _version(versions: list[GlossaryVersion], number: int) -> GlossaryVersion:
    found = next((x for x in versions if x.version == number), None)
    if found is None:
        raise not_found("version")
    return found


@router.get("/{glossary}/compare")
async def compare(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    user: UserDep,
    session: SessionDep,
    a: VersionQuery = None,
    b: VersionQuery = None,
) -> Response:
    """Added, removed and changed terms from version `a` to version `b`."""
    found = await ops.find(session, tenant, glossary)
    versions = await repository.versions(session, found.id)
    new = _version(versions, b or found.current_version)
    old = _version(versions, a or max(new.version - 1, 1))
    changes = diff(
        await repository.document(session, found, old.version),
        await repository.document(session, found, new.version),
    )
    return page(
        request,
        "compare.html",
        user,
        tenant=tenant,
        glossary=found,
        versions=list(reversed(versions)),
        old=old,
        new=new,
        changes=changes,
    )


@router.get("/{glossary}/export")
async def export(
    tenant: TenantDep,
    glossary: GlossaryRef,
    session: SessionDep,
    format: Annotated[ops.ExportFormat, Query()] = "csv",
    v: VersionQuery = None,
) -> Response:
    found = await ops.find(session, tenant, glossary)
    out = await ops.export(session, found, format, v)
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    return Response(out.body, media_type=out.media_type, headers=headers)


@router.post("/{glossary}/default")
async def set_default(
    request: Request, tenant: TenantDep, glossary: GlossaryRef, session: SessionDep
) -> Response:
    form = await read_form(request)
    found = await ops.find(session, tenant, glossary)
    make_default = form.get("is_default") == "true"
    await ops.set_default(session, found, make_default)
    notice = "default-set" if make_default else "default-cleared"
    return redirect(f"/t/{tenant}/glossaries/{found.name}", notice)


@router.get("/{glossary}/delete")
async def confirm_delete(
    request: Request, tenant: TenantDep, glossary: GlossaryRef, user: UserDep, session: SessionDep
) -> Response:
    found = await ops.find(session, tenant, glossary)
    return page(request, "delete.html", user, tenant=tenant, glossary=found)


@router.post("/{glossary}/delete")
async def delete(
    request: Request, tenant: TenantDep, glossary: GlossaryRef, session: SessionDep, ctx: ContextDep
) -> Response:
    await read_form(request)
    found: Glossary = await ops.find(session, tenant, glossary)
    await ops.delete(session, ctx.settings, found, kicker(request))
    return redirect(f"/t/{tenant}/glossaries", "deleted")
