"""Per-tenant settings: defaults a tenant's requests get unless they say otherwise."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import SessionDep, TenantDep
from service.api.problems import responses
from service.store import tenants
from service.store.db import Session

router = APIRouter(
    prefix="/v1/tenants/{tenant}/settings", tags=["settings"], responses=responses(401, 404, 422)
)
PolicyName = Literal["report", "retry", "fail"]


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    qa_glossary_policy: PolicyName | None = Field(
        default=None,
        description="Glossary compliance policy for this tenant; null: the service default",
    )


class SettingsOut(SettingsIn):
    updated_at: datetime | None = None


@router.get("", response_model=SettingsOut)
async def get_settings(tenant: TenantDep, session: SessionDep) -> SettingsOut:
    return await read_settings(session, tenant)


@router.put("", response_model=SettingsOut, responses=responses(400))
async def put_settings(body: SettingsIn, tenant: TenantDep, session: SessionDep) -> SettingsOut:
    return await write_settings(session, tenant, body)


async def read_settings(session: Session, tenant: str) -> SettingsOut:
    row = await tenants.settings_of(session, tenant)
    if row is None:
        return SettingsOut()
    return SettingsOut(qa_glossary_policy=row.qa_glossary_policy, updated_at=row.updated_at)  # type: ignore[arg-type]


async def write_settings(session: Session, tenant: str, body: SettingsIn) -> SettingsOut:
    policy = body.qa_glossary_policy
    row = await tenants.save_settings(session, tenant, qa_glossary_policy=policy)
    return SettingsOut(qa_glossary_policy=body.qa_glossary_policy, updated_at=row.updated_at)
