"""Tenants' configuration as the pipeline needs it (Tenants port): which upstream account a
tenant uses, and its glossary QA policy. Both are cached for a few seconds: a changed key or
policy takes effect within CACHE_TTL, and busy tenants cost no query per job. Concurrent
misses of one tenant share one query: 64 jobs claimed together would otherwise each ask."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from cachetools import TTLCache
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher, CredentialCorrupt, CredentialStoreUnavailable
from service.errors import CredentialInvalid
from service.l10n.compliance import Policy
from service.pipeline.ports import Translator
from service.store.errors import store_call
from service.store.tables import TenantCredential, TenantSettings
from service.zai import ZaiClient, key_fingerprint

CACHE_TTL = 10.0
T = TypeVar("T")


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
        self._loading: dict[tuple[str, str], asyncio.Future[object]] = {}

    async def _cached(
        self, cache: TTLCache[str, T], kind: str, tenant_id: str, load: Callable[[], Awaitable[T]]
    ) -> T:
        """The cached value, else one query however many callers ask meanwhile."""
        if tenant_id in cache:
            return cache[tenant_id]
        pending = self._loading.get((kind, tenant_id))
        if pending is None:
            pending = self._loading[(kind, tenant_id)] = asyncio.ensure_future(load())
            pending.add_done_callback(lambda f: self._done(kind, tenant_id, f))
        # Shielded: a cancelled caller does not cancel the query the others wait for.
        value = cast(T, await asyncio.shield(pending))
        cache[tenant_id] = value
        return value

    def _done(self, kind: str, tenant_id: str, future: asyncio.Future[object]) -> None:
        self._loading.pop((kind, tenant_id), None)
        if not future.cancelled():
            future.exception()  # retrieved here, so an unawaited failure is not logged

    async def translator(self, tenant_id: str) -> Translator:
        key = await self._cached(self._keys, "key", tenant_id, lambda: self._key(tenant_id))
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

    async def policy(self, tenant_id: str) -> Policy | None:
        return await self._cached(
            self._policies, "policy", tenant_id, lambda: self._policy(tenant_id)
        )

    @store_call
    async def _policy(self, tenant_id: str) -> Policy | None:
        async with self._sessions() as s:
            row = await s.get(TenantSettings, tenant_id)
        name = row.qa_glossary_policy if row else None
        return Policy(name) if name else None

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
