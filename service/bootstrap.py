"""Composition root: the one place where settings become clients, brokers and apps."""

from __future__ import annotations

import asyncio
import logging

from pydantic import SecretStr

from service.config import Settings
from service.worker.app import Worker
from service.worker.topics import ensure_topics
from service.zai import ZaiClient

logger = logging.getLogger(__name__)

# Any non-empty key passes the simulator when it runs without --api-key.
SIMULATOR_API_KEY = SecretStr("simulator.local-key")


def build_zai_client(settings: Settings) -> ZaiClient:
    key = settings.zai_api_key or SIMULATOR_API_KEY
    return ZaiClient.from_settings(settings, api_key=key)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run the consumer until `stop` is set, then drain and close."""
    await ensure_topics(settings)
    async with build_zai_client(settings) as client:
        worker = Worker(settings, client)
        await worker.start()
        logger.info(
            "worker started",
            extra={"topic": settings.topic_requests, "simulator": settings.uses_simulator},
        )
        try:
            await stop.wait()
        finally:
            await worker.stop()
            logger.info("worker stopped")
