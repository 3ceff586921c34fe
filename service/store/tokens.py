"""API tokens minted by an admin (`service.auth.tokens`): stored as hashes, revoked by date."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.store.tables import ApiToken, utcnow


async def find(session: AsyncSession, token_id: str) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def create(
    session: AsyncSession, *, token_id: str, tenant_id: str | None, name: str, token_hash: str
) -> ApiToken:
    row = ApiToken(id=token_id, tenant_id=tenant_id, name=name, token_hash=token_hash)
    session.add(row)
    await session.commit()
    return row


async def listed(session: AsyncSession) -> list[ApiToken]:
    """Every token, oldest first (revoked ones too)."""
    rows = await session.exec(select(ApiToken).order_by(col(ApiToken.created_at)))
    return list(rows.all())


async def revoke(session: AsyncSession, token_id: str) -> bool:
    """False if there is no such token, or it is revoked already."""
    row = await session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    await session.commit()
    return True
