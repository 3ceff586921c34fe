"""How a tenant reaches Z.ai: the service's key, its own key, or its Z.ai account linked in
Truto (an integrated account). Shown back without secrets; docs/truto.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from service.api.deps import ContextDep, SessionDep, TenantDep
from service.api.problems import Problem, not_found, responses
from service.api.routes.credentials import KEY_PATTERN, store_key
from service.store import connections
from service.store.db import Session
from service.store.tables import ConnectionKind

router = APIRouter(
    prefix="/v1/tenants/{tenant}/connection",
    tags=["connection"],
    responses=responses(401, 404, 422),
)
# Truto's integrated account ids are UUIDs; any plain id of this shape is accepted.
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"


class ServiceConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["service"] = Field(description="The service's own Z.ai key")


class ZaiKeyConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["zai_key"] = Field(description="The tenant's own Z.ai key")
    api_key: SecretStr | None = Field(
        default=None,
        description="The key (`<id>.<secret>`); may be left out when one is stored already",
        json_schema_extra={"pattern": KEY_PATTERN, "minLength": 8, "maxLength": 512},
    )


class TrutoConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["truto"] = Field(description="The tenant's Z.ai account, linked in Truto")
    integrated_account_id: str = Field(
        pattern=ACCOUNT_PATTERN, description="Truto's id of the tenant's linked Z.ai account"
    )


ConnectionIn = Annotated[
    ServiceConnection | ZaiKeyConnection | TrutoConnection, Field(discriminator="kind")
]


class KeyStatus(BaseModel):
    configured: bool
    last4: str | None = None


class ConnectionOut(BaseModel):
    kind: Literal["service", "zai_key", "truto"]
    explicit: bool = Field(description="Chosen through this API; false: the default")
    integrated_account_id: str | None = None
    zai_key: KeyStatus = Field(description="The tenant's stored key, never shown")
    updated_at: datetime | None = None


@router.get("", response_model=ConnectionOut)
async def get_connection(tenant: TenantDep, session: SessionDep) -> ConnectionOut:
    return await _view(session, tenant)


@router.put("", response_model=ConnectionOut, responses=responses(400))
async def put_connection(
    body: ConnectionIn, tenant: TenantDep, session: SessionDep, ctx: ContextDep
) -> ConnectionOut:
    if isinstance(body, TrutoConnection):
        if ctx.settings.truto_api_token is None:
            # The client's choice cannot be served here: a 422 naming the field, not a 5xx.
            raise Problem(
                422,
                "Unprocessable Content",
                "this deployment has no Truto token (TRUTO_API_TOKEN)",
                errors=[{"field": "body.kind", "message": "truto is not available here"}],
            )
        account = body.integrated_account_id
        await connections.choose(session, tenant, ConnectionKind.truto, account)
    elif isinstance(body, ZaiKeyConnection):
        if body.api_key is not None:
            await store_key(session, ctx, tenant, body.api_key, "body.api_key")
        elif await connections.credential(session, tenant) is None:
            raise Problem(
                422,
                "Unprocessable Content",
                "no Z.ai key is stored for this tenant",
                errors=[{"field": "body.api_key", "message": "required: no key is stored yet"}],
            )
        else:
            await connections.choose(session, tenant, ConnectionKind.zai_key)
    else:
        await connections.choose(session, tenant, ConnectionKind.service)
    return await _view(session, tenant)


@router.delete("", status_code=204)
async def delete_connection(tenant: TenantDep, session: SessionDep) -> Response:
    """Back to the default: the service's key, and no stored key of the tenant."""
    if not await connections.reset(session, tenant):
        raise not_found("connection")
    return Response(status_code=204)


async def _view(session: Session, tenant: str) -> ConnectionOut:
    row, stored = await connections.read(session, tenant)
    key = KeyStatus(configured=stored is not None, last4=stored.last4 if stored else None)
    if row is None:  # the default: its own key if stored, else the service's
        kind = ConnectionKind.zai_key if stored else ConnectionKind.service
        updated = stored.updated_at if stored else None
        return ConnectionOut(kind=kind.value, explicit=False, zai_key=key, updated_at=updated)
    return ConnectionOut(
        kind=ConnectionKind(row.kind).value,
        explicit=True,
        integrated_account_id=row.integrated_account_id,
        zai_key=key,
        updated_at=row.updated_at,
    )
