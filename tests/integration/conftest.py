from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.worker.app import WorkerService
from tests.support.pipeline import running_worker


@pytest.fixture
async def worker(
    kafka_bootstrap_servers: str, db_url: str, sim: Any
) -> AsyncIterator[WorkerService]:
    """An in-process worker on the real broker, a fresh database (both backends), the simulator."""
    async for svc in running_worker(kafka_bootstrap_servers, db_url, sim):
        yield svc
