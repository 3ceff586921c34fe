"""Composition root: the one place where settings become running components."""

from __future__ import annotations

import asyncio

from service.config import Settings
from service.worker.app import WorkerService


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run the worker until `stop` is set, then drain and close."""
    await WorkerService(settings).run(stop)
