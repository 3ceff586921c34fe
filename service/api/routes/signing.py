"""A tenant's request-signing secret (docs/events.md, "Signed requests"): write-only. Storing
one makes the tenant require signed requests; a rotation may keep the replaced secret valid
for a grace period, so producers can switch without a gap. Set and removed by an admin only:
a tenant token (handed to CI jobs and consoles) must not be able to mint the proof that a
message speaks for its tenant. The tenant may read the status.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from service.api.deps import AdminDep, ContextDep, SessionDep, TenantDep
from service.api.problems import Problem, not_found, responses
from service.api.routes.budget import integral
from service.auth.credentials import CredentialStoreUnavailable
from service.store import signing

router = APIRouter(
    prefix="/v1/tenants/{tenant}/signing-secret",
    tags=["signing"],
    responses=responses(401, 404, 422),
)
# Printable ASCII without spaces, 32 characters at least: `openssl rand -hex 32` makes 64.
SECRET_PATTERN = r"^[!-~]{32,512}$"
_SECRET = re.compile(SECRET_PATTERN)
MAX_GRACE = 7 * 24 * 3600


class SigningSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    secret: SecretStr = Field(
        description="The HMAC-SHA256 key producers sign with (32 to 512 printable ASCII "
        "characters, e.g. `openssl rand -hex 32`); never returned",
        json_schema_extra={"pattern": SECRET_PATTERN, "minLength": 32, "maxLength": 512},
    )
    grace_seconds: Annotated[int, BeforeValidator(integral)] = Field(
        default=0,
        ge=0,
        le=MAX_GRACE,
        description="How long the secret this one replaces stays valid (0: not at all)",
    )


class SigningStatusOut(BaseModel):
    required: bool = Field(description="Unsigned or badly signed requests are dead-lettered")
    updated_at: datetime | None = None
    previous_valid_until: datetime | None = Field(
        default=None, description="Until then the replaced secret is accepted too"
    )


@router.get("", response_model=SigningStatusOut)
async def get_signing_status(tenant: TenantDep, session: SessionDep) -> SigningStatusOut:
    return _out(await signing.status(session, tenant))


@router.put("", response_model=SigningStatusOut, responses=responses(403, 503))
async def put_signing_secret(
    body: SigningSecretIn, tenant: TenantDep, session: SessionDep, ctx: ContextDep, _: AdminDep
) -> SigningStatusOut:
    """Store or rotate the secret; workers apply it within REQUEST_SIGNING_CACHE_SECONDS."""
    secret = body.secret.get_secret_value()
    if not _SECRET.fullmatch(secret):
        message = "expected 32 to 512 printable ASCII characters, no spaces"
        errors = [{"field": "body.secret", "message": message}]
        raise Problem(422, "Unprocessable Content", "the secret is malformed", errors=errors)
    grace = timedelta(seconds=body.grace_seconds)
    try:
        stored = await signing.rotate(session, ctx.cipher, tenant, body.secret, grace)
    except CredentialStoreUnavailable:
        raise Problem(
            503, "Service Unavailable", "secret storage is not configured (CREDENTIALS_KEY)"
        ) from None
    return _out(stored)


@router.delete("", status_code=204, responses=responses(403))
async def delete_signing_secret(tenant: TenantDep, session: SessionDep, _: AdminDep) -> Response:
    """The tenant no longer requires signed requests."""
    if not await signing.remove(session, tenant):
        raise not_found("signing secret")
    return Response(status_code=204)


def _out(got: signing.SigningStatus) -> SigningStatusOut:
    return SigningStatusOut(
        required=got.required,
        updated_at=got.updated_at,
        previous_valid_until=got.previous_valid_until,
    )
