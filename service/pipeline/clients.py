"""One Z.ai client per API key: the tenant's own key if it stored one, else the service's."""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher
from service.store.tables import TenantCredential
from service.zai import ZaiClient, key_fingerprint

KEY_TTL = 10.0


class ClientPool:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        default_key: SecretStr,
        make: Callable[[SecretStr], ZaiClient],
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._default_key = default_key
        self._make = make
        self._clients: dict[str, ZaiClient] = {}
        # tenant -> key: a changed key takes effect within KEY_TTL seconds, and busy tenants
        # cost no query per job.
        self._keys: TTLCache[str, SecretStr] = TTLCache(maxsize=10_000, ttl=KEY_TTL)

    async def for_tenant(self, tenant_id: str) -> ZaiClient:
        key = self._keys.get(tenant_id)
        if key is None:
            async with self._sessions() as s:
                row = await s.get(TenantCredential, (tenant_id, "zai"))
            key = self._cipher.decrypt(row.ciphertext) if row else self._default_key
            self._keys[tenant_id] = key
        fingerprint = key_fingerprint(key)
        client = self._clients.get(fingerprint)
        if client is None:
            client = self._clients[fingerprint] = self._make(key)
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
