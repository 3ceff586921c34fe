"""Tenants' configuration as the pipeline needs it (Tenants port): how a tenant reaches Z.ai,
and its glossary QA policy. Both are cached for a few seconds: a changed connection or policy
takes effect within CACHE_TTL, and busy tenants cost no query per job. Concurrent misses of one
tenant share one query: 64 jobs claimed together would otherwise each ask.

A tenant's connection (docs/truto.md): the service's key, its own key (encrypted in
`tenant_credential`), or a Truto integrated account. No `tenant_connection` row means what it
meant before connections existed: its own key if one is stored, else the service's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from cachetools import TTLCache
from pydantic import SecretStr
from sqlalchemy import CompoundSelect, union
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import (
    CredentialCipher,
    CredentialCorrupt,
    CredentialStoreUnavailable,
    key_fingerprint,
)
from service.errors import CredentialInvalid, TrutoNotConfigured
from service.l10n.compliance import Policy
from service.pipeline.ports import Translator
from service.store.errors import store_call
from service.store.tables import (
    ApiToken,
    ConnectionKind,
    Glossary,
    Job,
    TenantConnection,
    TenantCredential,
    TenantSettings,
    utcnow,
)

CACHE_TTL = 10.0
PROVIDER = "zai"


@dataclass(frozen=True)
class Connection:
    """Exactly one of: a Z.ai key, or a Truto integrated account."""

    key: SecretStr | None = None
    truto_account: str | None = None


T = TypeVar("T")


class SqlTenants:
    """One upstream client per key or integrated account, shared by every tenant using it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: CredentialCipher,
        default_key: SecretStr,
        make_client: Callable[[SecretStr], Translator],
        make_truto_client: Callable[[str], Translator] | None = None,
        close_truto: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._default_key = default_key
        self._make = make_client
        self._make_truto = make_truto_client
        self._close_truto = close_truto
        self._clients: dict[str, Translator] = {}
        self._connections: TTLCache[str, Connection] = TTLCache(maxsize=10_000, ttl=CACHE_TTL)
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
        connection = await self._cached(
            self._connections, "connection", tenant_id, lambda: self._connection(tenant_id)
        )
        if connection.truto_account is not None:
            account = connection.truto_account
            if self._make_truto is None:
                raise TrutoNotConfigured()
            make_truto = self._make_truto
            return self._client(f"truto:{account}", lambda: make_truto(account))
        key = connection.key or self._default_key
        return self._client(key_fingerprint(key), lambda: self._make(key))

    def _client(self, name: str, make: Callable[[], Translator]) -> Translator:
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = make()
        return client

    @store_call
    async def _connection(self, tenant_id: str) -> Connection:
        async with self._sessions() as s:
            row = await s.get(TenantConnection, tenant_id)
            credential = await s.get(TenantCredential, (tenant_id, PROVIDER))
        kind = ConnectionKind(row.kind) if row else None
        if kind is ConnectionKind.truto and row is not None and row.integrated_account_id:
            return Connection(truto_account=row.integrated_account_id)
        if kind is ConnectionKind.service:
            return Connection()
        if credential is None:
            if kind is ConnectionKind.zai_key:
                raise CredentialInvalid("the tenant chose its own Z.ai key, but none is stored")
            return Connection()
        try:
            return Connection(key=self._cipher.decrypt(credential.ciphertext))
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
        if self._close_truto is not None:
            await self._close_truto()


async def known_tenants(session: AsyncSession) -> list[str]:
    """Every tenant the database knows of (glossaries, jobs, settings, connections, keys,
    tokens), sorted.

    There is no tenant table: a tenant exists as soon as a token or a request names it.
    """
    query: CompoundSelect[tuple[str]] = union(
        select(Glossary.tenant_id).where(col(Glossary.deleted_at).is_(None)),
        select(Job.tenant_id).distinct(),
        select(TenantSettings.tenant_id),
        select(TenantConnection.tenant_id),
        select(TenantCredential.tenant_id),
        select(ApiToken.tenant_id).where(
            col(ApiToken.tenant_id).is_not(None), col(ApiToken.revoked_at).is_(None)
        ),
    )
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    return sorted({row[0] for row in rows})


async def settings_of(session: AsyncSession, tenant_id: str) -> TenantSettings | None:
    return await session.get(TenantSettings, tenant_id)


async def save_settings(
    session: AsyncSession, tenant_id: str, *, qa_glossary_policy: str | None
) -> TenantSettings:
    row = await session.get(TenantSettings, tenant_id)
    if row is None:
        row = TenantSettings(tenant_id=tenant_id)
        session.add(row)
    row.qa_glossary_policy, row.updated_at = qa_glossary_policy, utcnow()
    await session.commit()
    return row
