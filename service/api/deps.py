"""Request-scoped dependencies: the API context, a database session, and the caller's identity."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.problems import Problem, not_found
from service.auth.credentials import CredentialCipher
from service.auth.tokens import Principal, configured_principal, matches, split_token
from service.config import Settings
from service.store import tokens
from service.store.db import Session, Sessions

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
TOKEN_ID_PATTERN = r"^[0-9a-f]{16}$"  # what `service.auth.tokens.mint` makes
# Free-text fields and lookups: no NUL (PostgreSQL cannot store it) nor other control characters.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


@dataclass
class ApiContext:
    settings: Settings
    sessions: Sessions
    cipher: CredentialCipher


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[ApiContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[Session]:
    async with ctx.sessions() as session:
        yield session


# The request's session, handed to store functions (service.store): the API runs no statement of
# its own (the import-linter contract and tests/unit/test_architecture.py keep it so).
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An admin token or a tenant token")


async def get_principal(
    ctx: ContextDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = await authenticate(ctx, session, credentials.credentials if credentials else None)
    if principal is None:
        raise Problem(
            401,
            "Unauthorized",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def authenticate(ctx: ApiContext, session: Session, token: str | None) -> Principal | None:
    """Who a token belongs to, or None: the one check behind the API's bearer and the console."""
    if not token:
        return None
    s = ctx.settings
    principal = configured_principal(
        token,
        admin_token=s.api_admin_token.get_secret_value() if s.api_admin_token else None,
        tenant_tokens={t: v.get_secret_value() for t, v in s.api_tenant_tokens.items()},
    )
    if principal is not None:
        return principal
    token_id = split_token(token)
    # Only ids a minted token can have reach the database (no NUL bytes, no oversized keys).
    well_formed = token_id is not None and re.fullmatch(TOKEN_ID_PATTERN, token_id)
    row = await tokens.find(session, token_id) if token_id and well_formed else None
    if row is None or row.revoked_at is not None or not matches(token, row.token_hash):
        return None
    return Principal(token_id=row.id, tenant_id=row.tenant_id)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise Problem(403, "Forbidden", "an admin token is required")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def tenant_scope(
    principal: PrincipalDep,
    tenant: Annotated[str, Path(pattern=TENANT_PATTERN, description="Tenant id")],
) -> str:
    """The tenant in the path, if the caller may see it; another tenant's data answers 404."""
    if not principal.can_access(tenant):
        raise not_found("tenant")
    return tenant


TenantDep = Annotated[str, Depends(tenant_scope)]
