"""The worker's /readyz keeps the readiness gauge the alerts watch."""

from __future__ import annotations

import httpx

from service.metrics import Metrics
from service.worker.http import create_app


async def test_readyz_sets_the_ready_gauge() -> None:
    healthy = True

    async def database() -> None:
        if not healthy:
            raise ConnectionRefusedError

    metrics = Metrics()
    app = create_app(metrics, {"database": database}, lambda: "{}")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://w"
    ) as client:
        assert (await client.get("/readyz")).status_code == 200
        assert metrics.registry.get_sample_value("zai_l10n_worker_ready") == 1
        healthy = False
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["failures"] == {"database": "ConnectionRefusedError"}
        assert metrics.registry.get_sample_value("zai_l10n_worker_ready") == 0
        metrics_text = (await client.get("/metrics")).text
    assert "zai_l10n_worker_ready 0.0" in metrics_text
