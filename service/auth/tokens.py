"""Bearer tokens of the admin API: minting, hashing and who may see which tenant (no I/O).

A token reads `zl_<id>_<secret>`: the id finds the stored row, the secret is only ever stored as
a SHA-256 hash (the secret is 256 random bits, so a slow password hash would add nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "zl"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin (tenant_id None) or one tenant."""

    token_id: str
    tenant_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None

    def can_access(self, tenant_id: str) -> bool:
        return self.is_admin or self.tenant_id == tenant_id


@dataclass(frozen=True)
class MintedToken:
    token_id: str
    token: str  # shown once, never stored
    token_hash: str


def mint() -> MintedToken:
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    return MintedToken(token_id=token_id, token=token, token_hash=hash_token(token))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> str | None:
    """The token id of a well-formed minted token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def configured_principal(
    token: str, *, admin_token: str | None, tenant_tokens: dict[str, str]
) -> Principal | None:
    """Match a token against those given in settings (compared in constant time)."""
    if admin_token and hmac.compare_digest(token, admin_token):
        return Principal(token_id="settings:admin", tenant_id=None)
    for tenant, expected in tenant_tokens.items():
        if hmac.compare_digest(token, expected):
            return Principal(token_id=f"settings:{tenant}", tenant_id=tenant)
    return None
