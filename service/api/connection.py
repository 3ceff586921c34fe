"""How a tenant reaches the translation upstream, as the console shows it: never a secret.

One function, `connection_status`, so another connection type (a Truto account, issue 12) is one
more case here rather than a change to every page that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.store.tables import TenantCredential


@dataclass(frozen=True)
class ConnectionStatus:
    kind: str  # "zai_key": the tenant's own Z.ai key; "service_key": the service's key
    label: str  # what a person reads, e.g. "Own Z.ai API key"
    configured: bool  # the tenant stored a connection of its own
    hint: str | None = None  # a non-secret clue to which one: the key's last four characters
    updated_at: datetime | None = None


async def connection_status(session: AsyncSession, tenant: str) -> ConnectionStatus:
    row = await session.get(TenantCredential, (tenant, "zai"))
    if row is None:
        return ConnectionStatus("service_key", "The service's Z.ai key", configured=False)
    return ConnectionStatus(
        "zai_key", "Own Z.ai API key", configured=True, hint=row.last4, updated_at=row.updated_at
    )
