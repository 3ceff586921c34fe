"""How each tenant reaches Z.ai, as the admin API changes it: its chosen connection
(`tenant_connection`) and its own key, encrypted (`tenant_credential`). The worker reads the
same rows through `SqlTenants` (tenants.py). A tenant holds exactly one secret, or none: any
connection but its own key drops a stored key (Truto keeps the key of a Truto tenant)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.store.tables import ConnectionKind, TenantConnection, TenantCredential, utcnow

PROVIDER = "zai"


async def read(
    session: AsyncSession, tenant: str
) -> tuple[TenantConnection | None, TenantCredential | None]:
    """The tenant's chosen connection (None: the default) and its stored key (None: none)."""
    chosen = await session.get(TenantConnection, tenant)
    return chosen, await credential(session, tenant)


async def credential(session: AsyncSession, tenant: str) -> TenantCredential | None:
    return await session.get(TenantCredential, (tenant, PROVIDER))


async def set_key(
    session: AsyncSession, tenant: str, *, ciphertext: str, last4: str
) -> TenantCredential:
    """Store the tenant's encrypted key and make it the tenant's connection."""
    row = await credential(session, tenant)
    if row is None:
        row = TenantCredential(tenant_id=tenant, provider=PROVIDER, ciphertext="", last4="")
        session.add(row)
    row.ciphertext, row.last4, row.updated_at = ciphertext, last4, utcnow()
    await _choose(session, tenant, ConnectionKind.zai_key, None)
    await session.commit()
    return row


async def choose(
    session: AsyncSession, tenant: str, kind: ConnectionKind, account: str | None = None
) -> None:
    """The tenant's connection (`account`: Truto's integrated account id, for `truto`)."""
    await _choose(session, tenant, kind, account)
    await session.commit()


async def delete_key(session: AsyncSession, tenant: str) -> bool:
    """Drop the stored key (a tenant on it goes back to the service's key); False: none."""
    row = await credential(session, tenant)
    if row is None:
        return False
    await session.delete(row)
    chosen = await session.get(TenantConnection, tenant)
    if chosen is not None and chosen.kind == ConnectionKind.zai_key:
        await session.delete(chosen)
    await session.commit()
    return True


async def reset(session: AsyncSession, tenant: str) -> bool:
    """Back to the default: the service's key, no stored key. False: nothing was set."""
    chosen, stored = await read(session, tenant)
    if chosen is None and stored is None:
        return False
    for found in (chosen, stored):
        if found is not None:
            await session.delete(found)
    await session.commit()
    return True


async def _choose(
    session: AsyncSession, tenant: str, kind: ConnectionKind, account: str | None
) -> None:
    row = await session.get(TenantConnection, tenant)
    if row is None:
        row = TenantConnection(tenant_id=tenant, kind=kind.value)
        session.add(row)
    row.kind, row.integrated_account_id, row.updated_at = kind.value, account, utcnow()
    if kind is not ConnectionKind.zai_key:
        stored = await credential(session, tenant)
        if stored is not None:
            await session.delete(stored)
