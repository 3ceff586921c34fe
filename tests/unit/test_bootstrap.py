"""The composition root turns settings into clients: Z.ai region, overrides, the simulator."""

from __future__ import annotations

from typing import Any

from service.bootstrap import zai_client
from service.config import Settings


def _settings(**kw: Any) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


async def test_zai_client_from_settings_region_and_overrides() -> None:
    settings = _settings(
        zai_api_key="a.b", zai_region="mainland", zai_max_retries=1, zai_read_timeout=9.0
    )
    client = zai_client(settings)
    assert client.agents_base_url == "https://open.bigmodel.cn/api/v1"
    assert client.files_base_url == "https://open.bigmodel.cn/api/paas/v4"
    assert client._x._retry.max_retries == 1
    assert client._http.timeout.read == 9.0
    assert client._http.timeout.connect == 5.0
    await client.aclose()


async def test_zai_client_from_settings_explicit_key_and_urls() -> None:
    settings = _settings(zai_agents_base_url="http://x/a", zai_files_base_url="http://x/f/")
    client = zai_client(settings, api_key="c.d")
    assert (client.agents_base_url, client.files_base_url) == ("http://x/a", "http://x/f")
    await client.aclose()


async def test_zai_client_from_settings_without_key_targets_the_simulator() -> None:
    client = zai_client(_settings(sim_host="127.0.0.1", sim_port=9999))
    assert client.agents_base_url == "http://127.0.0.1:9999/api/v1"
    assert client.files_base_url == "http://127.0.0.1:9999/api/paas/v4"
    await client.aclose()
