"""Helpers for end-to-end tests: worker processes, unique topics, publishing and reading events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """What a worker needs: a broker, a database, the simulator, and its own topics."""

    bootstrap: str
    database_url: str
    agents_base: str
    files_base: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def requests(self) -> str:
        return f"req-{self.run}"

    @property
    def results(self) -> str:
        return f"res-{self.run}"

    @property
    def dlq(self) -> str:
        return f"dlq-{self.run}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_GROUP_ID": f"g-{self.run}",
            "TOPIC_REQUESTS": self.requests,
            "TOPIC_RESULTS": self.results,
            "TOPIC_DLQ": self.dlq,
            "TOPIC_GLOSSARY_EVENTS": f"gl-{self.run}",
            "TOPIC_PARTITIONS": "3",
            "ZAI_AGENTS_BASE_URL": self.agents_base,
            "ZAI_FILES_BASE_URL": self.files_base,
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": "WARNING",
            **extra,
        }


class WorkerProcess:
    started: ClassVar[list[WorkerProcess]] = []  # every one, so that none outlives its test

    def __init__(self, stack: Stack, log: Path, **extra: str) -> None:
        self.port = free_port()
        self.log_path = log
        env = stack.env(WORKER_HTTP_PORT=str(self.port), **extra)
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"], env=env, stdout=self._log, stderr=self._log
        )
        WorkerProcess.started.append(self)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("worker not ready")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    @classmethod
    def kill_leftovers(cls) -> int:
        """SIGKILL the workers a failed test left running; returns how many there were."""
        left = [w for w in cls.started if w.proc.poll() is None]
        for worker in left:
            worker.kill()
        cls.started.clear()
        return len(left)


async def publish(
    bootstrap: str, topic: str, messages: list[bytes | dict[str, Any]], key: bytes = b"acme"
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, m if isinstance(m, bytes) else json.dumps(m).encode(), key=key
            )
            for m in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read(bootstrap: str, topic: str, count: int, wait_s: float = 60.0) -> list[Any]:
    """The first `count` records of `topic` (fails the test by returning fewer on timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + wait_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=count)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def events(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]
