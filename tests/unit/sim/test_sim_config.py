from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from service.sim.config import SimConfig, sample_latency_ms


def test_updated_validates_and_keeps_other_fields() -> None:
    config = SimConfig(api_keys=("k.s",), max_files=3)
    changed = config.updated({"mode": "async", "latency_ms": 5})
    assert (changed.mode, changed.latency_ms, changed.max_files, changed.api_keys) == (
        "async",
        5.0,
        3,
        ("k.s",),
    )


@pytest.mark.parametrize("patch", [{"mode": "batch"}, {"latency_ms": -1}, {"nope": 1}])
def test_updated_rejects_bad_values(patch: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SimConfig().updated(patch)


def test_public_view_never_shows_keys() -> None:
    public = SimConfig(api_keys=("secret.key",)).public()
    assert "api_keys" not in public and public["api_keys_count"] == 1
    assert "secret" not in str(public)
    assert public["retention_days"] == 180


def test_fixed_latency() -> None:
    assert sample_latency_ms(SimConfig(latency_ms=12), random.Random(1)) == 12


def test_uniform_latency_stays_in_range_and_never_negative() -> None:
    config = SimConfig(latency_model="uniform", latency_ms=5, latency_jitter_ms=10)
    rng = random.Random(1)
    samples = [sample_latency_ms(config, rng) for _ in range(1000)]
    assert min(samples) == 0.0 and max(samples) <= 15


def test_lognormal_latency_has_the_configured_median() -> None:
    config = SimConfig(latency_model="lognormal", latency_ms=100, latency_sigma=0.5)
    rng = random.Random(1)
    samples = sorted(sample_latency_ms(config, rng) for _ in range(2001))
    assert 90 < samples[1000] < 110


def test_lognormal_with_zero_median_is_zero() -> None:
    assert sample_latency_ms(SimConfig(latency_model="lognormal"), random.Random(1)) == 0
