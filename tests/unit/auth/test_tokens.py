from __future__ import annotations

import pytest
from pydantic import SecretStr

from service.auth.credentials import (
    CredentialCipher,
    CredentialCorrupt,
    CredentialStoreUnavailable,
    last4,
    new_key,
)
from service.auth.tokens import Principal, configured_principal, matches, mint, split_token


def test_minted_token_verifies_and_is_stored_only_hashed() -> None:
    minted = mint()
    assert split_token(minted.token) == minted.token_id
    assert matches(minted.token, minted.token_hash)
    assert minted.token not in minted.token_hash
    assert not matches(minted.token + "x", minted.token_hash)


@pytest.mark.parametrize("bad", ["", "zl", "zl__x", "xx_id_secret", "zl_id_", "Bearer"])
def test_malformed_tokens_have_no_id(bad: str) -> None:
    assert split_token(bad) is None


def test_tenant_sees_only_itself_admin_sees_all() -> None:
    acme = Principal("t1", "acme")
    admin = Principal("t0", None)
    assert acme.can_access("acme") and not acme.can_access("globex")
    assert admin.can_access("acme") and admin.can_access("globex")


def test_configured_tokens() -> None:
    kw = {"admin_token": "root-token", "tenant_tokens": {"acme": "acme-token"}}
    assert configured_principal("root-token", **kw) == Principal("settings:admin", None)  # type: ignore[arg-type]
    assert configured_principal("acme-token", **kw) == Principal("settings:acme", "acme")  # type: ignore[arg-type]
    assert configured_principal("nope", **kw) is None  # type: ignore[arg-type]
    assert configured_principal("", admin_token=None, tenant_tokens={}) is None


def test_cipher_round_trip_and_rotation() -> None:
    old, new = new_key(), new_key()
    stored = CredentialCipher(SecretStr(old)).encrypt(SecretStr("abc.secret-1234"))
    assert "secret" not in stored
    rotated = CredentialCipher(SecretStr(f"{new},{old}"))
    assert rotated.decrypt(stored).get_secret_value() == "abc.secret-1234"
    with pytest.raises(CredentialCorrupt):
        CredentialCipher(SecretStr(new)).decrypt(stored)


def test_cipher_without_key_refuses_and_hides_nothing() -> None:
    cipher = CredentialCipher(None)
    with pytest.raises(CredentialStoreUnavailable):
        cipher.encrypt(SecretStr("k"))
    assert "configured=False" in repr(cipher)
    assert last4(SecretStr("abc.defghij")) == "ghij"
