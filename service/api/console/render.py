"""Rendering console pages: Jinja2 templates shipped in the package, strict security headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from service.api.console.session import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleUser,
    csrf_token,
    keep_nonce,
    nonce_of,
)
from service.api.glossary_input import ENCODING_PATTERN
from service.api.problems import Problem

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html

# Everything from our own origin: no CDN, no inline script, no framing, forms post only to us.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Messages a redirect after a POST may show, by code: no user text travels in the URL.
NOTICES = {
    "signed-out": "You are signed out.",
    "uploaded": "The glossary was saved as a new version.",
    "unchanged": "The content equals the current version: no new version was made.",
    "entry-saved": "The entry was saved as a new version of the glossary.",
    "entry-deleted": "The entry was deleted in a new version of the glossary.",
    "default-set": "This glossary is now the tenant's default.",
    "default-cleared": "This glossary is no longer the default.",
    "deleted": "The glossary was deleted.",
    "settings-saved": "The settings were saved.",
    "memory-deleted": "The translation was deleted from the memory: the next request for "
    "that text is translated again.",
}


def page(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    csrf = user.csrf if user else csrf_token(nonce_of(request), request.cookies.get(SESSION_COOKIE))
    notice = NOTICES.get(request.query_params.get("notice", ""))
    encoding = request.query_params.get("encoding", "")
    if notice and re.fullmatch(ENCODING_PATTERN, encoding):
        notice += (
            f" The file is not UTF-8: it was read as {encoding}. Check its accented letters; if"
            " they are wrong, upload it again naming its encoding."
        )
    response = templates.TemplateResponse(
        request,
        template,
        {"user": user, "csrf": csrf, "prefix": PREFIX, "notice": notice, **context},
        status_code=status_code,
        headers=HEADERS,
    )
    keep_nonce(request, response)
    return response


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """303 after a POST: the browser GETs the next page, so reloading never posts twice."""
    target = f"{PREFIX}{path}" + (f"?notice={notice}" if notice else "")
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def problem_page(request: Request, problem: Problem) -> HTMLResponse:
    """A problem raised under /console, as a page (the REST API answers problem+json)."""
    response = page(
        request,
        "problem.html",
        None,
        status_code=problem.status,
        problem=problem,
    )
    if problem.headers:
        response.headers.update(
            {k: v for k, v in problem.headers.items() if k != "WWW-Authenticate"}
        )
    return response
