"""Tenants' configuration as the pipeline needs it (Tenants port): which upstream account a
tenant uses, and its glossary QA policy. Both are cached for a few seconds: a changed key or
policy takes effect within CACHE_TTL, and busy tenants cost no query per job."""

from __future__ import annotations

from collections.abc import Callable

from cachetools import TTLCache
from pydantic import SecretStr
from sqlalchemy import CompoundSelect, union
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher, CredentialCorrupt, CredentialStoreUnavailable
from service.errors import CredentialInvalid
from service.l10n.compliance import Policy
from service.pipeline.ports import Translator
from service.store.errors import store_call
from service.store.tables import (
    ApiToken,
    Glossary,
    Job,
    TenantCredential,
    TenantSettings,
)
from service.zai import ZaiClient, key_fingerprint

CACHE_TTL = 10.0


class SqlTenants:
    """One upstream client per API key: the tenant's own key if it stored one, else the
    service's; clients are shared by every tenant with the same key."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        default_key: SecretStr,
        make_client: Callable[[SecretStr], ZaiClient],
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._default_key = default_key
        self._make = make_client
        self._clients: dict[str, ZaiClient] = {}
        self._keys: TTLCache[str, SecretStr] = TTLCache(maxsize=10_000, ttl=CACHE_TTL)
        self._policies: TTLCache[str, Policy | None] = TTLCache(maxsize=10_000, ttl=CACHE_TTL)

    async def translator(self, tenant_id: str) -> Translator:
        key = self._keys.get(tenant_id)
        if key is None:
            key = self._keys[tenant_id] = await self._key(tenant_id)
        fingerprint = key_fingerprint(key)
        client = self._clients.get(fingerprint)
        if client is None:
            client = self._clients[fingerprint] = self._make(key)
        return client

    @store_call
    async def _key(self, tenant_id: str) -> SecretStr:
        async with self._sessions() as s:
            row = await s.get(TenantCredential, (tenant_id, "zai"))
        if row is None:
            return self._default_key
        try:
            return self._cipher.decrypt(row.ciphertext)
        except (CredentialCorrupt, CredentialStoreUnavailable) as exc:
            raise CredentialInvalid(
                f"the tenant's stored Z.ai key is unusable ({exc}); store it again"
            ) from None

    @store_call
    async def policy(self, tenant_id: str) -> Policy | None:
        if tenant_id not in self._policies:
            async with self._sessions() as s:
                row = await s.get(TenantSettings, tenant_id)
            name = row.qa_glossary_policy if row else None
            self._policies[tenant_id] = Policy(name) if name else None
        return self._policies[tenant_id]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def known_tenants(session: AsyncSession) -> list[str]:
    """Every tenant the database knows of (glossaries, jobs, settings, keys, tokens), sorted.

    There is no tenant table: a tenant exists as soon as a token or a request names it.
    """
    query: CompoundSelect[tuple[str]] = union(
        select(Glossary.tenant_id).where(col(Glossary.deleted_at).is_(None)),
        select(Job.tenant_id).distinct(),
        select(TenantSettings.tenant_id),
        select(TenantCredential.tenant_id),
        select(ApiToken.tenant_id).where(
            col(ApiToken.tenant_id).is_not(None), col(ApiToken.revoked_at).is_(None)
        ),
    )
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    return sorted({row[0] for row in rows})
