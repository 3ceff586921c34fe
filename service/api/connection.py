"""How a tenant reaches the translation upstream, as the console shows it: never a secret.

One function, `connection_status`, so every page shows the same reading of the tenant's
connection (docs/truto.md): the service's key, its own key, or its Z.ai account in Truto.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.store import connections
from service.store.db import Session
from service.store.tables import ConnectionKind


@dataclass(frozen=True)
class ConnectionStatus:
    kind: str  # "service_key", "zai_key" (its own Z.ai key) or "truto" (an integrated account)
    label: str  # what a person reads, e.g. "Own Z.ai API key"
    configured: bool  # the tenant chose or stored a connection of its own
    hint: str | None = None  # the own key's last four characters (never more of it)
    account: str | None = None  # Truto's integrated account id (an id, not a secret)
    updated_at: datetime | None = None


SERVICE = "The service's Z.ai key"


async def connection_status(session: Session, tenant: str) -> ConnectionStatus:
    chosen, stored = await connections.read(session, tenant)
    kind = ConnectionKind(chosen.kind) if chosen else None
    if kind is ConnectionKind.truto and chosen is not None:
        return ConnectionStatus(
            "truto",
            "Own Z.ai account, linked through Truto",
            configured=True,
            account=chosen.integrated_account_id,
            updated_at=chosen.updated_at,
        )
    if kind is ConnectionKind.service and chosen is not None:
        return ConnectionStatus(
            "service_key", SERVICE, configured=True, updated_at=chosen.updated_at
        )
    if stored is None:
        return ConnectionStatus("service_key", SERVICE, configured=False)
    return ConnectionStatus(
        "zai_key",
        "Own Z.ai API key",
        configured=True,
        hint=stored.last4,
        updated_at=stored.updated_at,
    )
