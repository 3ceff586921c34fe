"""Status of a translation job, by the client's request id, under the tenant's auth rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from service.api.deps import SessionDep, TenantDep
from service.api.problems import not_found, responses
from service.store import jobs
from service.store.db import Session

router = APIRouter(
    prefix="/v1/tenants/{tenant}/jobs", tags=["jobs"], responses=responses(401, 404, 422)
)


class TargetStatus(BaseModel):
    target_lang: str
    state: str  # pending | completed | failed
    submitted_units: int  # upstream async tasks known for this language
    result: dict[str, Any] | None  # the published event body once finished


class JobStatus(BaseModel):
    request_id: str
    tenant_id: str
    state: str  # queued | running | done
    glossary_id: str | None
    glossary_version: int | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    targets: list[TargetStatus]


@router.get("/{request_id}", response_model=JobStatus)
async def get_job(
    tenant: TenantDep,
    request_id: Annotated[
        # No NUL: PostgreSQL cannot store one, so no job has it.
        str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$")
    ],
    session: SessionDep,
) -> JobStatus:
    return await job_status(session, tenant, request_id)


async def job_status(session: Session, tenant: str, request_id: str) -> JobStatus:
    """A job and its languages (also the console's job page); unknown ids answer 404."""
    job = await jobs.find(session, tenant, request_id)
    if job is None:
        raise not_found("job")
    targets = await jobs.targets(session, job.id)
    return JobStatus(
        request_id=job.request_id,
        tenant_id=job.tenant_id,
        state=job.state,
        glossary_id=job.glossary_id,
        glossary_version=job.glossary_version,
        attempts=job.attempts,
        created_at=job.created_at,
        finished_at=job.finished_at,
        targets=[
            TargetStatus(
                target_lang=t.target_lang,
                state=t.state,
                submitted_units=len(t.async_ids),
                result=t.outcome,
            )
            for t in targets
        ],
    )
