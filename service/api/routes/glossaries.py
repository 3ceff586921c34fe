"""A tenant's glossaries: create, list, read, versions, entries, replace, patch, export, delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from service.api import glossary_ops as ops
from service.api.deps import ApiContext, ContextDep, PrincipalDep, SessionDep, TenantDep
from service.api.glossary_input import (
    NAME_PATTERN,
    Upload,
    read_upload,
    request_body_doc,
)
from service.api.glossary_ops import EntriesPatch, limits_of
from service.api.problems import Problem, not_found, responses
from service.auth.tokens import Principal
from service.glossary.model import GlossaryEntry
from service.store import glossaries as repository
from service.store.db import Session
from service.store.glossaries import Saved
from service.store.tables import Glossary, GlossaryVersion

router = APIRouter(
    prefix="/v1/tenants/{tenant}/glossaries",
    tags=["glossaries"],
    responses=responses(401, 404, 422),
)
UPLOAD_ERRORS = responses(400, 409, 413, 415)
# Names and ids (UUIDs) both match the name pattern.
GlossaryRef = Annotated[str, Path(pattern=NAME_PATTERN, description="Name or id")]


class VersionOut(BaseModel):
    version: int
    source_lang: str
    content_hash: str
    entry_count: int
    languages: list[str]
    author: str
    created_at: datetime


class GlossaryOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    source_lang: str
    is_default: bool
    current_version: int
    created_at: datetime
    updated_at: datetime
    version: VersionOut | None = None
    changed: bool | None = Field(default=None, description="On writes: a new version was made")
    encoding: str | None = Field(
        default=None,
        description="On CSV/TSV uploads: the text encoding the file was read in, `utf-8` or the "
        "one detected (e.g. `cp1252`) when the file is not UTF-8; check the text if it was "
        "detected, or upload again naming `encoding`",
    )


class EntryOut(BaseModel):
    term: str
    translations: dict[str, str]
    case_sensitive: bool
    do_not_translate: bool
    forbidden: bool
    note: str | None


class EntriesPage(BaseModel):
    version: int
    offset: int
    limit: int
    total: int
    items: list[EntryOut]


@router.post(
    "",
    status_code=201,
    response_model=GlossaryOut,
    responses=UPLOAD_ERRORS,
    openapi_extra=request_body_doc(name_required=True),
)
async def create_glossary(
    request: Request, tenant: TenantDep, session: SessionDep, ctx: ContextDep, who: PrincipalDep
) -> GlossaryOut:
    upload = await read_upload(request, limits_of(ctx.settings))
    if upload.name is None:
        raise Problem(
            422,
            "Unprocessable Content",
            "a glossary name is required",
            errors=[{"field": "body.name", "message": "required"}],
        )
    if await repository.find(session, tenant, upload.name) is not None:
        raise Problem(409, "Conflict", f"glossary {upload.name!r} exists; PUT replaces it")
    return await _save(request, session, ctx, tenant, upload.name, upload, who)


@router.get("", response_model=list[GlossaryOut])
async def list_glossaries(tenant: TenantDep, session: SessionDep) -> list[GlossaryOut]:
    return [_out(g) for g in await repository.list_live(session, tenant)]


@router.get("/{glossary}", response_model=GlossaryOut)
async def get_glossary(
    tenant: TenantDep, glossary: GlossaryRef, session: SessionDep
) -> GlossaryOut:
    found = await ops.find(session, tenant, glossary)
    return _out(found, await repository.version(session, found.id, found.current_version))


@router.get("/{glossary}/versions", response_model=list[VersionOut])
async def list_versions(
    tenant: TenantDep, glossary: GlossaryRef, session: SessionDep
) -> list[VersionOut]:
    found = await ops.find(session, tenant, glossary)
    return [_version_out(v) for v in await repository.versions(session, found.id)]


@router.get("/{glossary}/versions/{version}/entries", response_model=EntriesPage)
async def list_entries(
    tenant: TenantDep,
    glossary: GlossaryRef,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntriesPage:
    found = await ops.find(session, tenant, glossary)
    row = await repository.version(session, found.id, version)
    if row is None or row.id is None:
        raise not_found("version")
    items, total = await repository.entries_page(session, row.id, offset=offset, limit=limit)
    return EntriesPage(
        version=version,
        offset=offset,
        limit=limit,
        total=total,
        items=[_entry_out(e) for e in items],
    )


@router.put(
    "/{glossary}",
    response_model=GlossaryOut,
    responses=UPLOAD_ERRORS,
    openapi_extra=request_body_doc(),
)
async def replace_glossary(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    session: SessionDep,
    ctx: ContextDep,
    who: PrincipalDep,
) -> GlossaryOut:
    upload = await read_upload(request, limits_of(ctx.settings))
    found = await ops.find(session, tenant, glossary)
    return await _save(request, session, ctx, tenant, found.name, upload, who)


@router.patch("/{glossary}/entries", response_model=GlossaryOut, responses=responses(400, 409))
async def patch_entries(
    body: EntriesPatch,
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    session: SessionDep,
    ctx: ContextDep,
    who: PrincipalDep,
) -> GlossaryOut:
    found = await ops.find(session, tenant, glossary)
    saved = await ops.patch(
        session, ctx.settings, found, body, author=who.token_id, kick=_kicker(request)
    )
    return _saved_out(saved)


@router.get("/{glossary}/export", response_class=Response)
async def export_glossary(
    tenant: TenantDep,
    glossary: GlossaryRef,
    session: SessionDep,
    format: Literal["csv", "tbx"] = "csv",
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    found = await ops.find(session, tenant, glossary)
    out = await ops.export(session, found, format, version)
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    return Response(out.body, media_type=out.media_type, headers=headers)


@router.delete("/{glossary}", status_code=204)
async def delete_glossary(
    request: Request, tenant: TenantDep, glossary: GlossaryRef, session: SessionDep, ctx: ContextDep
) -> Response:
    found = await ops.find(session, tenant, glossary)
    await ops.delete(session, ctx.settings, found, _kicker(request))
    return Response(status_code=204)


async def _save(
    request: Request,
    session: Session,
    ctx: ApiContext,
    tenant: str,
    name: str,
    upload: Upload,
    who: Principal,
) -> GlossaryOut:
    saved = await ops.save(
        session,
        ctx.settings,
        tenant=tenant,
        name=name,
        doc=upload.doc,
        author=who.token_id,
        is_default=upload.is_default,
        kick=_kicker(request),
    )
    out = _saved_out(saved)
    out.encoding = upload.encoding
    return out


def _saved_out(saved: Saved) -> GlossaryOut:
    out = _out(saved.glossary, saved.version)
    out.changed = saved.created
    return out


def _kicker(request: Request) -> Callable[[], None]:
    """Wakes the outbox relay, so the `glossary.updated` event leaves now, not at its next poll."""
    relay = getattr(request.app.state, "outbox", None)
    return relay.kick if relay is not None else (lambda: None)


def _out(g: Glossary, version: GlossaryVersion | None = None) -> GlossaryOut:
    return GlossaryOut(
        id=g.id,
        tenant_id=g.tenant_id,
        name=g.name,
        source_lang=g.source_lang,
        is_default=g.is_default,
        current_version=g.current_version,
        created_at=g.created_at,
        updated_at=g.updated_at,
        version=_version_out(version) if version else None,
    )


def _version_out(v: GlossaryVersion) -> VersionOut:
    return VersionOut(
        version=v.version,
        source_lang=v.source_lang,
        content_hash=v.content_hash,
        entry_count=v.entry_count,
        languages=v.languages,
        author=v.author,
        created_at=v.created_at,
    )


def _entry_out(e: GlossaryEntry) -> EntryOut:
    return EntryOut(
        term=e.term,
        translations=dict(e.translations),
        case_sensitive=e.case_sensitive,
        do_not_translate=e.do_not_translate,
        forbidden=e.forbidden,
        note=e.note,
    )
