"""A tenant's own Z.ai API key: write-only; responses only say whether one is set.

Storing a key here also makes it the tenant's connection (`zai_key`); deleting it returns a
tenant on its own key to the service's key. `…/connection` (connection.py) is the general form.
"""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, SecretStr
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api.deps import ApiContext, ContextDep, SessionDep, TenantDep
from service.api.problems import Problem, not_found, responses
from service.auth.credentials import CredentialStoreUnavailable, last4
from service.store.tables import ConnectionKind, TenantConnection, TenantCredential, utcnow

router = APIRouter(
    prefix="/v1/tenants/{tenant}/credentials",
    tags=["credentials"],
    responses=responses(401, 404, 422),
)
PROVIDER = "zai"
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
    row = await store_key(session, ctx, tenant, body.api_key, "body.api_key")
    await choose(session, tenant, ConnectionKind.zai_key)
    await session.commit()
    return _status(row)


@router.get("/zai", response_model=CredentialStatus)
async def get_zai_key_status(tenant: TenantDep, session: SessionDep) -> CredentialStatus:
    row = await session.get(TenantCredential, (tenant, PROVIDER))
    return _status(row) if row else CredentialStatus(provider=PROVIDER, configured=False)


@router.delete("/zai", status_code=204)
async def delete_zai_key(tenant: TenantDep, session: SessionDep) -> Response:
    row = await session.get(TenantCredential, (tenant, PROVIDER))
    if row is None:
        raise not_found("credential")
    await session.delete(row)
    chosen = await session.get(TenantConnection, tenant)
    if chosen is not None and chosen.kind == ConnectionKind.zai_key:
        await session.delete(chosen)  # back to the service's key
    await session.commit()
    return Response(status_code=204)


# --- shared with connection.py ---------------------------------------------------------------


async def store_key(
    session: AsyncSession, ctx: ApiContext, tenant: str, api_key: SecretStr, field: str
) -> TenantCredential:
    """Validate, encrypt and stage the tenant's key (the caller commits)."""
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
    row = await session.get(TenantCredential, (tenant, PROVIDER))
    if row is None:
        row = TenantCredential(tenant_id=tenant, provider=PROVIDER, ciphertext="", last4="")
        session.add(row)
    row.ciphertext, row.last4, row.updated_at = ciphertext, last4(api_key), utcnow()
    return row


async def choose(
    session: AsyncSession, tenant: str, kind: ConnectionKind, account: str | None = None
) -> TenantConnection:
    """Stage the tenant's connection; any other kind than `zai_key` drops a stored key, so a
    tenant holds exactly one secret, or none (Truto keeps the key of a Truto tenant)."""
    row = await session.get(TenantConnection, tenant)
    if row is None:
        row = TenantConnection(tenant_id=tenant, kind=kind.value)
        session.add(row)
    row.kind, row.integrated_account_id, row.updated_at = kind.value, account, utcnow()
    if kind is not ConnectionKind.zai_key:
        stored = await session.get(TenantCredential, (tenant, PROVIDER))
        if stored is not None:
            await session.delete(stored)
    return row


def _status(row: TenantCredential) -> CredentialStatus:
    return CredentialStatus(
        provider=PROVIDER, configured=True, last4=row.last4, updated_at=row.updated_at
    )
