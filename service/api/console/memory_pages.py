"""The console's translation memory: a tenant's stored translations searched by text, with
the glossary version that made each; a bad one deleted (the next request for that text
translates it again). Reads and the delete go through `service.store.browse`."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.api.console.glossaries import read_form
from service.api.console.render import page, redirect
from service.api.console.session import PREFIX, TenantDep, UserDep
from service.api.deps import TEXT_PATTERN, SessionDep
from service.api.problems import Problem, not_found
from service.store import browse

router = APIRouter(prefix=f"{PREFIX}/t/{{tenant}}/memory", include_in_schema=False)
PAGE = 50
KEY = (
    r"^[0-9a-f]{64}$"  # a memory key is a SHA-256 hex digest (service.pipeline.translation.memory)
)
LANG = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$|^(Pinyin|IPA)$|^$"


@router.get("")
async def memory_page(
    request: Request,
    tenant: TenantDep,
    user: UserDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200, pattern=TEXT_PATTERN)] = "",
    lang: Annotated[str, Query(max_length=20, pattern=LANG)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    found = await browse.memory(
        session,
        tenant,
        q.strip(),
        target_lang=lang or None,
        offset=offset,
        limit=PAGE,
    )
    return page(
        request, "memory.html", user, tenant=tenant, found=found, q=q, lang=lang, page_size=PAGE
    )


@router.post("/delete")
async def forget(request: Request, tenant: TenantDep, session: SessionDep) -> Response:
    form = await read_form(request, max_fields=5)
    key = form.get("key")
    if not isinstance(key, str) or not _is_key(key):
        errors = [{"field": "key", "message": "not a memory entry's key"}]
        raise Problem(422, "Unprocessable Content", "not a memory entry's key", errors=errors)
    if not await browse.forget(session, tenant, key):
        raise not_found("memory entry")
    return redirect(f"/t/{tenant}/memory", "memory-deleted")


def _is_key(value: str) -> bool:
    return re.fullmatch(KEY, value) is not None
