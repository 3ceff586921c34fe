"""Fixtures for ZaiClient tests: a scripted upstream, fake time and a client factory."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service.zai.client import ZaiClient
from service.zai.retry import RetryPolicy

from .fakes import AGENTS, API_KEY, FILES, FakeTime, Upstream


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(upstream: Upstream, fake_time: FakeTime) -> Callable[..., ZaiClient]:
    def make(**kw: Any) -> ZaiClient:
        api_key = kw.pop("api_key", API_KEY)
        options: dict[str, Any] = {
            "agents_base_url": AGENTS,
            "files_base_url": FILES,
            "retry": RetryPolicy(max_retries=3, base=0.1, max=1.0, rng=random.Random(1)),
            "transport": httpx.MockTransport(upstream.handler),
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
            "async_deadline": 10.0,
            "poll_initial": 0.5,
            "poll_max": 2.0,
        }
        options.update(kw)
        return ZaiClient(api_key, **options)

    return make
