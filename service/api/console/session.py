"""Who is signed in to the console, and the CSRF check of every form.

The session is the token itself, in an HttpOnly, SameSite=Strict cookie scoped to /console: each
request authenticates it exactly as the REST API authenticates a bearer token
(`deps.authenticate`), so a revoked token is signed out at once, replicas share no state, and
the console can do nothing the same token could not do through the API.

CSRF: a signed double-submit token. A random nonce lives in its own HttpOnly cookie; forms carry
HMAC(nonce, session token). A cross-site page can read neither cookie, and a cookie planted by a
sibling host cannot be paired with a valid form value without the victim's token. SameSite=Strict
is a second line. Hand-written (some twenty lines) because the CSRF libraries for Starlette
check a header set by JavaScript, and these forms must work without it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from starlette.datastructures import FormData

from service.api.deps import TENANT_PATTERN, ContextDep, SessionDep, authenticate
from service.api.problems import Problem, not_found
from service.auth.tokens import Principal

PREFIX = "/console"
SESSION_COOKIE = "zl_console"
NONCE_COOKIE = "zl_console_csrf"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 8 * 3600


class SignInRequired(Exception):
    """No session, or its token no longer authenticates: answered with a redirect to sign in."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in required")
        self.next_path = next_path


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    csrf: str  # the value every form of this user's pages carries

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin


def nonce_of(request: Request) -> str:
    """The CSRF nonce of this browser (made on its first visit; see `keep_nonce`)."""
    nonce = request.cookies.get(NONCE_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = request.state.new_nonce = secrets.token_urlsafe(24)
    return nonce


def csrf_token(nonce: str, session_token: str | None) -> str:
    return hmac.new(nonce.encode(), (session_token or "").encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, form: FormData) -> None:
    """A POST whose form does not carry this browser's CSRF value is refused with 403."""
    sent = form.get(CSRF_FIELD)
    nonce = request.cookies.get(NONCE_COOKIE)
    expected = csrf_token(nonce, request.cookies.get(SESSION_COOKIE)) if nonce else None
    if not isinstance(sent, str) or expected is None or not hmac.compare_digest(sent, expected):
        raise Problem(403, "Forbidden", "the form expired or came from another site; reload it")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = request.app.state.ctx.settings.console_cookie_secure
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def keep_nonce(request: Request, response: Response) -> None:
    """Store a nonce made while rendering this response (the browser had none)."""
    new = getattr(request.state, "new_nonce", None)
    if new:
        set_cookie(request, response, NONCE_COOKIE, new, max_age=SESSION_SECONDS)


async def current_user(request: Request, ctx: ContextDep, session: SessionDep) -> ConsoleUser:
    token = request.cookies.get(SESSION_COOKIE)
    principal = await authenticate(ctx, session, token)
    if principal is None:
        raise SignInRequired(request.url.path if request.method == "GET" else PREFIX)
    return ConsoleUser(principal, csrf_token(nonce_of(request), token))


UserDep = Annotated[ConsoleUser, Depends(current_user)]


def console_tenant(
    user: UserDep,
    tenant: Annotated[str, Path(pattern=TENANT_PATTERN, description="Tenant id")],
) -> str:
    """The tenant in the path if this user may see it; another tenant's pages answer 404."""
    if not user.principal.can_access(tenant):
        raise not_found("tenant")
    return tenant


TenantDep = Annotated[str, Depends(console_tenant)]
