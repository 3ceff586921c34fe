"""Tenants' request-signing secrets (docs/events.md, "Signed requests"): the SigningSecrets
port of the intake, and the admin API's reads and writes. Encrypted like tenants' Z.ai keys
(`service.auth.credentials`); a secret leaves this module only decrypted into the intake's
memory, never in a response, log line or event.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import RowMapping, delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.credentials import CredentialCipher, CredentialCorrupt, CredentialStoreUnavailable
from service.pipeline.ports import SigningKeys
from service.store.db import engine_of, reader
from service.store.errors import store_call
from service.store.tables import TenantSigningSecret, utcnow

SECRETS = TenantSigningSecret.__table__  # type: ignore[attr-defined]


class SqlSigningSecrets:
    """One SELECT for any number of tenants (the intake asks once per batch of misses)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cipher: CredentialCipher):
        self._reader = reader(engine_of(sessions))
        self._cipher = cipher

    @store_call
    async def signing_keys(self, tenant_ids: Collection[str]) -> dict[str, SigningKeys]:
        wanted = sorted(tenant_ids)
        rows: list[RowMapping] = []
        async with self._reader.connect() as conn:
            for i in range(0, len(wanted), 500):  # bounded IN lists
                query = select(SECRETS).where(SECRETS.c.tenant_id.in_(wanted[i : i + 500]))
                rows += (await conn.execute(query)).mappings().all()
        return {row["tenant_id"]: self._keys(row) for row in rows}

    def _keys(self, row: RowMapping) -> SigningKeys:
        current = self._plain(row["ciphertext"])
        old = row["previous_ciphertext"]
        return SigningKeys(
            secrets=(current,) if current else (),
            previous=self._plain(old) if old else None,
            previous_until=row["previous_valid_until"],
        )

    def _plain(self, ciphertext: str) -> str | None:
        try:
            return self._cipher.decrypt(ciphertext).get_secret_value()
        except (CredentialCorrupt, CredentialStoreUnavailable):
            return None  # the tenant's requests are refused until the secret is stored again


@dataclass(frozen=True)
class SigningStatus:
    required: bool
    updated_at: datetime | None = None
    previous_valid_until: datetime | None = None


async def status(session: AsyncSession, tenant: str) -> SigningStatus:
    row = await session.get(TenantSigningSecret, tenant)
    if row is None:
        return SigningStatus(required=False)
    until = row.previous_valid_until
    live = until if until is not None and until > utcnow() else None
    return SigningStatus(True, row.updated_at, live)


async def rotate(
    session: AsyncSession,
    cipher: CredentialCipher,
    tenant: str,
    secret: SecretStr,
    grace: timedelta,
) -> SigningStatus:
    """Store `secret` as the tenant's (from now on its requests must be signed); the one it
    replaces stays valid for `grace`. Raises CredentialStoreUnavailable without CREDENTIALS_KEY.
    Commits."""
    ciphertext = cipher.encrypt(secret)
    row = await session.get(TenantSigningSecret, tenant)
    now = utcnow()
    if row is None:
        row = TenantSigningSecret(tenant_id=tenant, ciphertext=ciphertext, updated_at=now)
        session.add(row)
    else:
        keep = grace > timedelta(0)
        row.previous_ciphertext = row.ciphertext if keep else None
        row.previous_valid_until = now + grace if keep else None
        row.ciphertext, row.updated_at = ciphertext, now
    await session.commit()
    return await status(session, tenant)


async def remove(session: AsyncSession, tenant: str) -> bool:
    """The tenant no longer requires signed requests; False if it did not. Commits."""
    result = await session.exec(delete(SECRETS).where(SECRETS.c.tenant_id == tenant))
    await session.commit()
    return bool(result.rowcount)
