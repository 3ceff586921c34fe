"""A tenant's own Z.ai API key: write-only; responses only say whether one is set."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, SecretStr

from service.api.deps import ContextDep, SessionDep, TenantDep
from service.api.problems import Problem, not_found, responses
from service.auth.credentials import CredentialStoreUnavailable, last4
from service.store.tables import TenantCredential, utcnow

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
    key = body.api_key.get_secret_value()
    if not re.fullmatch(KEY_PATTERN, key):
        raise Problem(
            422,
            "Unprocessable Content",
            "the API key is malformed",
            errors=[
                {
                    "field": "body.api_key",
                    "message": "expected 8 to 512 printable ASCII characters, no spaces",
                }
            ],
        )
    try:
        ciphertext = ctx.cipher.encrypt(body.api_key)
    except CredentialStoreUnavailable:
        raise Problem(
            503, "Service Unavailable", "credential storage is not configured (CREDENTIALS_KEY)"
        ) from None
    row = await session.get(TenantCredential, (tenant, PROVIDER))
    if row is None:
        row = TenantCredential(tenant_id=tenant, provider=PROVIDER, ciphertext="", last4="")
        session.add(row)
    row.ciphertext, row.last4, row.updated_at = ciphertext, last4(body.api_key), utcnow()
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
    await session.commit()
    return Response(status_code=204)


def _status(row: TenantCredential) -> CredentialStatus:
    return CredentialStatus(
        provider=PROVIDER, configured=True, last4=row.last4, updated_at=row.updated_at
    )
