"""Editing one entry of a glossary from the console: the REST API's patch, one entry at a time.

Each save makes a new version (as `PATCH …/entries` does), validated by the same rules as an
upload; a renamed term is a delete of the old term and an upsert of the new one in one patch.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from service.api import glossary_ops as ops
from service.api.console.glossaries import GlossaryRef, kicker, read_form
from service.api.console.render import page, redirect
from service.api.console.session import PREFIX, ConsoleUser, TenantDep, UserDep
from service.api.deps import TEXT_PATTERN, ContextDep, SessionDep
from service.api.glossary_input import EntryIn
from service.api.problems import Problem, not_found
from service.glossary.model import GlossaryEntry
from service.store import glossaries as repository
from service.store.tables import Glossary

router = APIRouter(
    prefix=f"{PREFIX}/t/{{tenant}}/glossaries/{{glossary}}/entries", include_in_schema=False
)
TermQuery = Annotated[str, Query(max_length=2000, pattern=TEXT_PATTERN)]
_FLAGS = ("case_sensitive", "do_not_translate", "forbidden")


@router.get("/edit")
async def edit_form(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    user: UserDep,
    session: SessionDep,
    term: TermQuery = "",
) -> Response:
    """The form of one entry (of the current version); without `term`, a new entry."""
    found = await ops.find(session, tenant, glossary)
    doc = await repository.document(session, found, found.current_version)
    entry = None
    if term:
        entry = next((e for e in doc.entries if e.term == term), None)
        if entry is None:
            raise not_found("entry")
    langs = sorted(doc.target_langs | set(entry.translations if entry else ()))
    return page(
        request, "entry.html", user, tenant=tenant, glossary=found, entry=entry, langs=langs
    )


@router.post("")
async def save_entry(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    user: UserDep,
    session: SessionDep,
    ctx: ContextDep,
) -> Response:
    form = await read_form(request, max_fields=200)
    found = await ops.find(session, tenant, glossary)
    original = _text(form, "original")
    try:
        entry = _entry_in(form)
        deletes = [original] if original and original != entry.term else []
        patch = ops.EntriesPatch(upsert=[entry], delete=deletes)
        await ops.patch(
            session,
            ctx.settings,
            found,
            patch,
            author=user.principal.token_id,
            kick=kicker(request),
        )
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        return await _form_again(request, user, found, form, problem)
    return redirect(f"/t/{tenant}/glossaries/{found.name}", "entry-saved")


@router.post("/delete")
async def delete_entry(
    request: Request,
    tenant: TenantDep,
    glossary: GlossaryRef,
    user: UserDep,
    session: SessionDep,
    ctx: ContextDep,
) -> Response:
    form = await read_form(request)
    found = await ops.find(session, tenant, glossary)
    patch = ops.EntriesPatch(delete=[_text(form, "term")])
    await ops.patch(
        session, ctx.settings, found, patch, author=user.principal.token_id, kick=kicker(request)
    )
    return redirect(f"/t/{tenant}/glossaries/{found.name}", "entry-deleted")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _entry_in(form: FormData) -> EntryIn:
    """The entry the form describes: `tr:<lang>` fields, plus one new language and its text."""
    translations = {
        key.removeprefix("tr:"): value.strip()
        for key, value in form.multi_items()
        if key.startswith("tr:") and isinstance(value, str) and value.strip()
    }
    if (lang := _text(form, "new_lang")) and (text := _text(form, "new_text")):
        translations[lang] = text
    try:
        return EntryIn(
            term=_text(form, "term"),
            translations=translations,
            note=_text(form, "note") or None,
            **{flag: form.get(flag) == "on" for flag in _FLAGS},
        )
    except ValidationError as exc:
        errors = [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
        ]
        raise Problem(422, "The entry is invalid", errors=errors) from None


async def _form_again(
    request: Request, user: ConsoleUser, glossary: Glossary, form: FormData, problem: Problem
) -> Response:
    """The form as the user filled it in, with what is wrong, so nothing typed is lost."""
    translations = {
        k.removeprefix("tr:"): str(v) for k, v in form.multi_items() if k.startswith("tr:")
    }
    entry = GlossaryEntry(
        term=_text(form, "term"),
        translations={k: v for k, v in translations.items() if v},
        note=_text(form, "note") or None,
        **{flag: form.get(flag) == "on" for flag in _FLAGS},
    )
    return page(
        request,
        "entry.html",
        user,
        problem.status,
        tenant=glossary.tenant_id,
        glossary=glossary,
        entry=entry,
        original=_text(form, "original"),
        langs=sorted(translations),
        problem=problem,
    )
