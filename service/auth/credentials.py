"""Encryption at rest of tenants' own Z.ai API keys (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class CredentialStoreUnavailable(RuntimeError):
    """No CREDENTIALS_KEY is configured, so keys can be neither stored nor read."""


class CredentialCorrupt(RuntimeError):
    """A stored key cannot be decrypted with any configured key (rotated away, or tampered)."""


class CredentialCipher:
    """Encrypts with the first configured key, decrypts with any (so keys can be rotated)."""

    def __init__(self, keys: SecretStr | None) -> None:
        raw = [k.strip() for k in (keys.get_secret_value() if keys else "").split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in raw]) if raw else None

    def __repr__(self) -> str:
        return f"CredentialCipher(configured={self._fernet is not None})"

    def encrypt(self, secret: SecretStr) -> str:
        return self._require().encrypt(secret.get_secret_value().encode()).decode()

    def decrypt(self, ciphertext: str) -> SecretStr:
        try:
            return SecretStr(self._require().decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise CredentialCorrupt("stored credential cannot be decrypted") from None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise CredentialStoreUnavailable("CREDENTIALS_KEY is not configured")
        return self._fernet


def last4(secret: SecretStr) -> str:
    return secret.get_secret_value()[-4:]


def new_key() -> str:
    """A fresh key for CREDENTIALS_KEY."""
    return Fernet.generate_key().decode()


def key_fingerprint(api_key: SecretStr) -> str:
    """A short, non-reversible id of an API key, safe to use as a map key or metric label."""
    return hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()[:16]
