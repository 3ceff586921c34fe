"""Tenants' configuration: their upstream account, QA policy and signing secrets."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.l10n.compliance import Policy
from service.pipeline.ports.upstream import Translator


class Tenants(Protocol):
    async def translator(self, tenant_id: str) -> Translator:
        """The upstream account the tenant uses; raises CredentialInvalid if unusable."""
        ...

    async def policy(self, tenant_id: str) -> Policy | None:
        """The tenant's glossary QA policy, None when it has not set one."""
        ...


@dataclass(frozen=True)
class SigningKeys:
    """A tenant that requires signed requests: the secrets a signature may be made with.
    `secrets` empty means its secret cannot be decrypted (CREDENTIALS_KEY rotated away or
    unset): every request is refused until the secret is stored again (fail closed)."""

    secrets: tuple[str, ...]
    # The previous secret, kept through a rotation's grace period: valid until then.
    previous: str | None = None
    previous_until: datetime | None = None


class SigningSecrets(Protocol):
    async def signing_keys(self, tenant_ids: Collection[str]) -> dict[str, SigningKeys]:
        """The tenants among these that require signed requests (the others are absent)."""
        ...
