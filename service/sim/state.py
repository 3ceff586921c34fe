"""Mutable simulator state: files, async tasks, fault plans, counters and a controllable clock.

Everything runs on the server's event loop, so no locking is needed.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.sim.config import SimConfig
from service.sim.faults import FaultPlan, Route
from service.sim.translate import Corruption
from service.sim.wire import RequestError, SentCall, TranslationRequest

SECONDS_PER_DAY = 86_400
CALL_LOG_SIZE = 20_000  # the newest calls kept for /_sim/calls (about 300 bytes each)
_ID_ALPHABET = string.ascii_lowercase + string.digits


def key_hash(api_key: str) -> str:
    """How keys appear in counters: never raw."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


class Clock:
    """Wall time plus an offset that tests move forward (retention, async completion)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class StoredFile:
    id: str
    owner: str  # key hash: files are private to the API key that uploaded them
    filename: str
    size: int
    purpose: str
    created_at: float
    terms: tuple[tuple[str, str], ...] | None  # None: not a parsable glossary
    parse_error: str = ""


@dataclass
class AsyncTask:
    async_id: str
    task_id: str
    owner: str
    request: TranslationRequest
    terms: tuple[tuple[str, str], ...]
    created_at: float
    failed: bool = False  # ends "failed" instead of "success"
    corruption: Corruption = Corruption.none  # a content fault drawn when it was submitted


@dataclass
class Counters:
    calls: Counter[str] = field(default_factory=Counter)
    # agents calls by the target language they asked for, so tests can tell languages apart
    agents_by_target: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    deletes: int = 0
    translations: int = 0
    glossary_applied: int = 0
    async_submitted: int = 0
    streams: int = 0


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.startup_config = config
        self.reset()

    def reset(self) -> None:
        self.config = self.startup_config
        self.rng = random.Random(self.config.seed)
        self.clock = Clock()
        self.files: dict[str, StoredFile] = {}
        self.tasks: dict[str, AsyncTask] = {}
        self.plans: dict[Route, FaultPlan] = {}
        self.counters = Counters()
        self.requests: deque[dict[str, Any]] = deque(maxlen=200)
        self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)
        self.request_ids: set[tuple[str, str]] = set()

    def record(self, route: str, owner: str, body: Any) -> None:
        """Keep recent request bodies so tests can check what a client sent (keys stay hashed)."""
        self.requests.append({"route": route, "key": owner, "at": self.clock.now(), "body": body})

    def log_call(self, route: Route, owner: str, sent: SentCall, fault: str) -> None:
        """Every authenticated Z.ai call in arrival order with the fault it drew, so a drill
        can tell what each request went through (text cut to 120 characters)."""
        self.calls.append(
            {
                "route": route.value,
                "key": owner,
                "at": self.clock.now(),
                "target_lang": sent.target_lang,
                "text": sent.text[:120],
                "fault": fault,
            }
        )

    def claim_request_id(self, owner: str, request_id: object) -> None:
        """Z.ai rejects a reused body `request_id` with 1231 (zai-api.md §8.3)."""
        if not isinstance(request_id, str) or not request_id:
            return
        if (owner, request_id) in self.request_ids:
            raise RequestError(f"A request with request_id {request_id!r} already exists", "1231")
        self.request_ids.add((owner, request_id))

    def configure(self, patch: dict[str, Any]) -> SimConfig:
        self.config = self.config.updated(patch)
        if "seed" in patch:
            self.rng = random.Random(self.config.seed)
        return self.config

    # --- files -----------------------------------------------------------------------------

    def live_files(self, owner: str | None = None) -> list[StoredFile]:
        """Files within retention (oldest first); expired ones are forgotten for good."""
        cutoff = self.clock.now() - self.config.retention_days * SECONDS_PER_DAY
        for expired in [f.id for f in self.files.values() if f.created_at <= cutoff]:
            del self.files[expired]
        return [f for f in self.files.values() if owner is None or f.owner == owner]

    def find_file(self, file_id: str, owner: str) -> StoredFile | None:
        return next((f for f in self.live_files(owner) if f.id == file_id), None)

    def new_file_id(self) -> str:
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        return f"file-{stamp}-{''.join(self.rng.choices(_ID_ALPHABET, k=5))}"

    # --- ids ---------------------------------------------------------------------------------

    def new_task_id(self) -> str:
        """14-digit timestamp + hex, like the ids and request_ids Z.ai returns."""
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y%m%d%H%M%S")
        return f"{stamp}{self.rng.getrandbits(64):016x}"

    def new_async_id(self) -> str:
        """Base64 text, like bigmodel's example async ids."""
        raw = f"TaskId:{self.rng.getrandbits(64):016x}".encode()
        return base64.b64encode(raw).decode()

    def task_done(self, task: AsyncTask) -> bool:
        return self.clock.now() - task.created_at >= self.config.async_pending_seconds

    def snapshot(self) -> dict[str, Any]:
        c = self.counters
        return {
            "calls": {route.value: c.calls[route.value] for route in Route},
            "agents_by_target": dict(c.agents_by_target),
            "by_key": dict(c.by_key),
            "status": dict(c.status),
            "uploads": c.uploads,
            "deletes": c.deletes,
            "files": len(self.live_files()),
            "translations": c.translations,
            "glossary_applied": c.glossary_applied,
            "async_submitted": c.async_submitted,
            "async_pending": sum(1 for t in self.tasks.values() if not self.task_done(t)),
            "streams": c.streams,
            "faults_injected": dict(c.faults_injected),
            "clock_offset": self.clock.offset,
        }
