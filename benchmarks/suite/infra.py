"""What every scenario runs on: the broker, a fresh database per run, the simulator, and the
processes it measures (CPU and RSS from /proc).

The broker is reused when KAFKA_BOOTSTRAP_SERVERS is set, else a local KRaft broker is started;
the database is SQLite in a temp dir, or with --postgres a private PostgreSQL cluster (or the
server in DATABASE_URL), with a new database per run so no run sees another's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.kafka import start_kafka
from devstack.postgres import start_postgres
from tests.support.worker import free_port

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- processes -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Resident set size in MiB (second field of /proc/PID/statm, in pages)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


@dataclass
class Sampler:
    """Samples (seconds since start, RSS MiB) of some processes every `every` seconds."""

    pids: list[int]
    every: float = 1.0
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        started = time.monotonic()

        def run() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(OSError, ValueError):
                    rss = sum(rss_mb(pid) for pid in self.pids)
                    self.samples.append((time.monotonic() - started, rss))
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self.samples


# --- infrastructure --------------------------------------------------------------------------


@dataclass
class Infra:
    bootstrap: str
    tmp: Path
    postgres_url: str | None = None

    @property
    def database_name(self) -> str:
        return "PostgreSQL" if self.postgres_url else "SQLite"

    def database(self, label: str) -> str:
        """A new, empty database for one run."""
        name = f"bench_{label}_{uuid.uuid4().hex[:6]}".replace("-", "_")
        if self.postgres_url is None:
            return f"sqlite+aiosqlite:///{self.tmp / name}.db"
        asyncio.run(_create_database(self.postgres_url, name))
        return self.postgres_url.rsplit("/", 1)[0] + "/" + name


async def _create_database(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def infra(postgres: bool) -> Iterator[Infra]:
    kafka = pg = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ""
    try:
        if not bootstrap:
            kafka = start_kafka()
            bootstrap = kafka.bootstrap_servers
        if postgres:
            pg = start_postgres()
        with tempfile.TemporaryDirectory(prefix="zai-bench-") as tmp:
            yield Infra(bootstrap, Path(tmp), pg.url if pg else None)
    finally:
        if pg:
            pg.stop()
        if kafka:
            kafka.stop()


# --- the simulator ---------------------------------------------------------------------------


class Simulator:
    """`zai-l10n sim` in its own process (its CPU is not the worker's); reconfigured between
    runs through its control API instead of restarted."""

    def __init__(self, latency_ms: float = 0.0, **options: str) -> None:
        port = free_port()
        cmd = [sys.executable, "-m", "service", "sim", "--port", str(port), "--log-level"]
        cmd += ["warning", "--latency-ms", str(latency_ms), "--seed", "11"]
        for key, value in options.items():
            cmd += [f"--{key.replace('_', '-')}", value]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        self.base = f"http://127.0.0.1:{port}"
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        for _ in range(400):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the simulator exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/_sim/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError("the simulator did not become healthy")

    @property
    def agents(self) -> str:
        return f"{self.base}/api/v1"

    @property
    def files(self) -> str:
        return f"{self.base}/api/paas/v4"

    def reset(self, **config: Any) -> None:
        """Counters and files cleared, then `config` applied (latency_ms, latency_model, …)."""
        httpx.post(f"{self.base}/_sim/reset", timeout=10).raise_for_status()
        if config:
            httpx.post(f"{self.base}/_sim/config", json=config, timeout=10).raise_for_status()

    def counters(self) -> dict[str, Any]:
        reply = httpx.get(f"{self.base}/_sim/counters", timeout=10)
        reply.raise_for_status()
        counters: dict[str, Any] = reply.json()
        return counters

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def simulator(latency_ms: float = 0.0, **options: str) -> Iterator[Simulator]:
    sim = Simulator(latency_ms, **options)
    try:
        yield sim
    finally:
        sim.stop()
