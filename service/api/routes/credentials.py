"""A tenant's own Z.ai API key: write-only; responses only say whether one is set.

Storing a key here also makes it the tenant's connection (`zai_key`); deleting it returns a
tenant on its own key to the service's key. `…/connection` (connection.py) is the general form.
"""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, SecretStr

from service.api.deps import ApiContext, ContextDep, SessionDep, TenantDep
from service.api.problems import Problem, not_found, responses
from service.auth.credentials import CredentialStoreUnavailable, last4
from service.store import connections
from service.store.connections import PROVIDER
from service.store.db import Session
from service.store.tables import TenantCredential

router = APIRouter(
    prefix="/v1/tenants/{tenant}/credentials",
    tags=["credentials"],
    responses=responses(401, 404, 422),
)
# Printable ASCII, no spaces (Z.ai keys are `<id>.<secret>`); stated in the OpenAPI document too.
KEY_PATTERN = r"^[!-~]{8,512}$"


class ZaiCredentialIn(BaseModel):
    api_key: SecretStr = Field(
        description="The tenant's Z.ai API key (`<id>.<secret>`)",
        json_schema_extra={"pattern": KEY_PATTERN, "minLength": 8, "maxLength": 512},
    )


class CredentialStatus(BaseModel):
    provider: str
    configured: bool
    last4: str | None = None
    updated_at: datetime | None = None


@router.put("/zai", response_model=CredentialStatus, responses=responses(400, 503))
async def set_zai_key(
    body: ZaiCredentialIn, tenant: TenantDep, session: SessionDep, ctx: ContextDep
) -> CredentialStatus:
    return _status(await store_key(session, ctx, tenant, body.api_key, "body.api_key"))


@router.get("/zai", response_model=CredentialStatus)
async def get_zai_key_status(tenant: TenantDep, session: SessionDep) -> CredentialStatus:
    row = await connections.credential(session, tenant)
    return _status(row) if row else CredentialStatus(provider=PROVIDER, configured=False)


@router.delete("/zai", status_code=204)
async def delete_zai_key(tenant: TenantDep, session: SessionDep) -> Response:
    if not await connections.delete_key(session, tenant):  # a tenant on it: the service's key
        raise not_found("credential")
    return Response(status_code=204)


# --- shared with connection.py ---------------------------------------------------------------


async def store_key(
    session: Session, ctx: ApiContext, tenant: str, api_key: SecretStr, field: str
) -> TenantCredential:
    """Validate, encrypt and store the tenant's key, which becomes its connection."""
    if not re.fullmatch(KEY_PATTERN, api_key.get_secret_value()):
        raise Problem(
            422,
            "Unprocessable Content",
            "the API key is malformed",
            errors=[
                {
                    "field": field,
                    "message": "expected 8 to 512 printable ASCII characters, no spaces",
                }
            ],
        )
    try:
        ciphertext = ctx.cipher.encrypt(api_key)
    except CredentialStoreUnavailable:
        raise Problem(
            503, "Service Unavailable", "credential storage is not configured (CREDENTIALS_KEY)"
        ) from None
    return await connections.set_key(session, tenant, ciphertext=ciphertext, last4=last4(api_key))


def _status(row: TenantCredential) -> CredentialStatus:
    return CredentialStatus(
        provider=PROVIDER, configured=True, last4=row.last4, updated_at=row.updated_at
    )
