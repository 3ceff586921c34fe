"""Admin-only management of API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from service.api.deps import TENANT_PATTERN, TEXT_PATTERN, TOKEN_ID_PATTERN, AdminDep, SessionDep
from service.api.problems import not_found, responses
from service.auth.tokens import mint
from service.store import tokens
from service.store.tables import ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=responses(401, 403, 422))


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    tenant_id: str | None = Field(default=None, pattern=TENANT_PATTERN, description="None: admin")


class TokenPublic(BaseModel):
    id: str
    name: str
    tenant_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token. Shown only in this response.")


@router.post("", status_code=201, response_model=TokenCreated, responses=responses(400))
async def create_token(body: TokenCreate, session: SessionDep, _: AdminDep) -> TokenCreated:
    minted = mint()
    row = await tokens.create(
        session,
        token_id=minted.token_id,
        tenant_id=body.tenant_id,
        name=body.name,
        token_hash=minted.token_hash,
    )
    return TokenCreated(**_public(row).model_dump(), token=minted.token)


@router.get("", response_model=list[TokenPublic])
async def list_tokens(session: SessionDep, _: AdminDep) -> list[TokenPublic]:
    return [_public(r) for r in await tokens.listed(session)]


@router.delete("/{token_id}", status_code=204, responses=responses(404))
async def revoke_token(
    token_id: Annotated[str, Path(pattern=TOKEN_ID_PATTERN)], session: SessionDep, _: AdminDep
) -> Response:
    if not await tokens.revoke(session, token_id):
        raise not_found("token")
    return Response(status_code=204)


def _public(row: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        tenant_id=row.tenant_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
