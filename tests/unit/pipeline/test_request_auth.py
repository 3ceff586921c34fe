"""Signed requests: the pure signature check, the per-tenant cache in front of the secrets
port, and the intake dead-lettering what may not speak for its tenant before any job exists."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime

import pytest

from service.pipeline.contract.signature import HEADER, mac, parse, sign, verify
from service.pipeline.jobs.intake import Intake, IntakeConfig, Message
from service.pipeline.jobs.request_auth import AuthConfig, RequestAuth
from service.pipeline.ports import SigningKeys
from tests.unit.pipeline.fakes import request, rig

SECRET = "s" * 40
OTHER = "o" * 40
NOW = 1_800_000_000.0
BODY = b'{"request_id":"r1"}'


def test_a_signature_made_now_verifies() -> None:
    assert verify(sign(SECRET, BODY, int(NOW)), BODY, [SECRET], now=NOW, tolerance=300) is None


def test_the_header_is_timestamp_and_hex_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, 1_800_000_000) == f"t=1800000000,v1={expected}"
    assert mac(SECRET, 1_800_000_000, BODY) == expected


@pytest.mark.parametrize(
    ("header", "body", "why"),
    [
        (None, BODY, "no zai-l10n-signature header"),
        ("v1=abc", BODY, "not of the form"),
        ("t=abc,v1=abc", BODY, "not of the form"),
        ("garbage", BODY, "not of the form"),
        (sign(SECRET, BODY, int(NOW)), BODY + b" ", "does not match"),  # tampered body
        (sign(OTHER, BODY, int(NOW)), BODY, "does not match"),  # another secret
        (sign(SECRET, BODY, int(NOW)).replace("t=18", "t=17"), BODY, "stale"),
        (sign(SECRET, BODY, int(NOW) - 301), BODY, "signed 301 s ago, tolerance 300 s"),
        (sign(SECRET, BODY, int(NOW) + 301), BODY, "301 s ahead"),
        (f"t={int(NOW)},v1=ü", BODY, "does not match"),
    ],
)
def test_what_does_not_verify_says_why(header: str | None, body: bytes, why: str) -> None:
    refused = verify(header, body, [SECRET], now=NOW, tolerance=300)
    assert refused is not None and why in refused
    assert SECRET not in refused


def test_a_retimed_signature_does_not_match() -> None:
    forged = sign(SECRET, BODY, int(NOW) - 100).replace(f"t={int(NOW) - 100}", f"t={int(NOW)}")
    assert "does not match" in (verify(forged, BODY, [SECRET], now=NOW, tolerance=300) or "")


def test_any_of_several_secrets_and_signatures_may_match() -> None:
    old = sign(OTHER, BODY, int(NOW))
    both = f"{old},v1={mac(SECRET, int(NOW), BODY)}"
    assert parse(both) == (int(NOW), [mac(OTHER, int(NOW), BODY), mac(SECRET, int(NOW), BODY)])
    assert verify(both, BODY, [SECRET], now=NOW, tolerance=300) is None
    assert verify(old, BODY, [SECRET, OTHER], now=NOW, tolerance=300) is None


class FakeSecrets:
    def __init__(self, keys: dict[str, SigningKeys]) -> None:
        self.keys = keys
        self.calls: list[set[str]] = []

    async def signing_keys(self, tenant_ids: Collection[str]) -> dict[str, SigningKeys]:
        self.calls.append(set(tenant_ids))
        return {t: self.keys[t] for t in tenant_ids if t in self.keys}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def auth(secrets: FakeSecrets, mono: Clock, wall: float = NOW) -> RequestAuth:
    cfg = AuthConfig(tolerance=300, cache_seconds=10)
    return RequestAuth(secrets, cfg, clock=lambda: wall, monotonic=mono)


async def test_requirements_are_cached_per_tenant_and_misses_fetched_together() -> None:
    secrets, mono = FakeSecrets({"acme": SigningKeys((SECRET,))}), Clock()
    gate = auth(secrets, mono)
    await gate.load(["acme", "globex", "initech"])
    await gate.load(["acme", "globex"])
    assert secrets.calls == [{"acme", "globex", "initech"}]  # one call; then none
    mono.now = 11.0
    await gate.load(["globex"])
    assert secrets.calls[-1] == {"globex"}
    assert gate.check("globex", {}, BODY) is None  # no secret: nothing required
    assert gate.check("acme", {}, BODY) is not None


async def test_a_rotated_secret_is_accepted_through_its_grace_only() -> None:
    until = datetime.fromtimestamp(NOW + 60, UTC)
    keys = SigningKeys((SECRET,), previous=OTHER, previous_until=until)
    secrets, mono = FakeSecrets({"acme": keys}), Clock()
    during = auth(secrets, mono)
    await during.load(["acme"])
    old = {HEADER: sign(OTHER, BODY, int(NOW))}
    assert during.check("acme", old, BODY) is None
    after = auth(secrets, mono, wall=NOW + 61)
    await after.load(["acme"])
    assert after.check("acme", {HEADER: sign(OTHER, BODY, int(NOW) + 61)}, BODY) is not None


async def test_a_secret_that_cannot_be_decrypted_refuses_everything() -> None:
    secrets, mono = FakeSecrets({"acme": SigningKeys(())}), Clock()
    gate = auth(secrets, mono)
    await gate.load(["acme"])
    refused = gate.check("acme", {HEADER: sign(SECRET, BODY, int(NOW))}, BODY)
    assert refused is not None and "cannot be decrypted" in refused.detail


async def test_the_brokers_append_time_measures_the_age_not_the_wait_in_kafka() -> None:
    secrets, mono = FakeSecrets({"acme": SigningKeys((SECRET,))}), Clock()
    gate = auth(secrets, mono, wall=NOW + 3600)  # consumed an hour after it was appended
    await gate.load(["acme"])
    header = {HEADER: sign(SECRET, BODY, int(NOW))}
    assert gate.check("acme", header, BODY, appended_at=NOW + 2) is None
    assert gate.check("acme", header, BODY) is not None  # CreateTime: the worker's clock


def _message(offset: int, value: bytes, headers: dict[str, str] | None = None) -> Message:
    return Message("requests", 0, offset, b"acme", headers or {}, value)


async def test_the_intake_dead_letters_unsigned_and_tampered_requests_before_any_job() -> None:
    r = rig()
    secrets = FakeSecrets({"acme": SigningKeys((SECRET,))})
    gate = RequestAuth(secrets, AuthConfig(), monotonic=Clock())
    intake = Intake(r.store, r.metrics, IntakeConfig("results", "dlq"), auth=gate)
    signed = request("signed").model_dump_json().encode()
    unsigned = request("unsigned").model_dump_json().encode()
    tampered = request("tampered").model_dump_json().encode()
    other = request("globex-1", tenant_id="globex").model_dump_json().encode()
    now = int(time.time())
    messages = [
        _message(0, signed, {HEADER: sign(SECRET, signed, now)}),
        _message(1, unsigned),
        _message(
            2, tampered.replace(b"tampered", b"tampere2"), {HEADER: sign(SECRET, tampered, now)}
        ),
        _message(3, other),  # globex requires nothing
    ]
    accepted = await intake.accept(messages)
    assert (accepted.created, accepted.dead_lettered) == (2, 2)
    assert sorted(j.request.request_id for j in r.store.jobs.values()) == ["globex-1", "signed"]
    reasons = {e.payload["source_offset"]: e.payload["reason"] for e in r.store.outbox}
    assert reasons == {1: "request.unauthenticated", 2: "request.unauthenticated"}
    assert secrets.calls == [{"acme", "globex"}]  # one look-up for the whole batch
    assert r.metrics.dead_lettered.labels("request.unauthenticated")._value.get() == 2
