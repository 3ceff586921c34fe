"""Mutable state of the Truto simulator: integrated accounts, rate windows, the idempotency
record, the fault script and counters. Runs on the server's event loop: no locking needed."""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from service.sim.truto_model import SlidingLog, TrutoSimConfig

Status = Literal["active", "needs_reauth"]
TRUTO_FAULTS = frozenset(["ok", "502", "504", "remote_401", "blocked"])


def token_hash(token: str) -> str:
    """How tokens and keys appear in counters: never raw."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class Account:
    """An integrated account: Truto holds the Z.ai key and injects it upstream."""

    id: str
    zai_key: str
    sandbox: bool = False
    blocked: bool = False
    status: Status = "active"
    last_error: object = None  # the provider body that made it needs_reauth

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "zai_key_hash": token_hash(self.zai_key),
            "sandbox": self.sandbox,
            "blocked": self.blocked,
            "status": self.status,
        }


@dataclass(frozen=True)
class Stored:
    """A reply kept for an Idempotency-Key."""

    status: int
    body: bytes
    content_type: str


@dataclass
class TrutoCounters:
    proxy_calls: Counter[str] = field(default_factory=Counter)  # by resource
    forwarded: Counter[str] = field(default_factory=Counter)  # calls that reached Z.ai
    by_account: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)  # token hash -> calls
    rate_limited: Counter[str] = field(default_factory=Counter)  # "account:<id>" | "token"
    tools_calls: int = 0
    replays: int = 0
    zai_keys_seen: int = 0  # requests carrying any account's Z.ai key: must stay 0
    without_idempotency_key: int = 0  # mutating proxy calls that carried none


class TrutoState:
    def __init__(self, config: TrutoSimConfig) -> None:
        self.startup_config = config
        self.startup_accounts: dict[str, Account] = {}  # the CLI's --account ones
        self.reset()

    def reset(self) -> None:
        self.config = self.startup_config
        self.accounts = {k: Account(a.id, a.zai_key) for k, a in self.startup_accounts.items()}
        self.token_log: dict[str, SlidingLog] = defaultdict(SlidingLog)
        self.account_log: dict[str, SlidingLog] = defaultdict(SlidingLog)
        self.limited_at: dict[str, list[float]] = defaultdict(list)  # when 429s were answered
        self.replay: dict[tuple[str, str, str, str], Stored] = {}
        self.script: deque[str] = deque()
        self.counters = TrutoCounters()
        self.requests: deque[dict[str, Any]] = deque(maxlen=500)

    def now(self) -> float:
        return time.monotonic()

    def zai_keys(self) -> frozenset[str]:
        return frozenset(a.zai_key for a in self.accounts.values())

    def token_ok(self, token: str) -> bool:
        return bool(token) and (not self.config.tokens or token in self.config.tokens)

    def next_fault(self) -> str:
        return self.script.popleft() if self.script else "ok"

    def record(self, entry: dict[str, Any]) -> None:
        self.requests.append({"at": self.now(), **entry})

    def snapshot(self) -> dict[str, Any]:
        c = self.counters
        return {
            "proxy_calls": dict(c.proxy_calls),
            "forwarded": dict(c.forwarded),
            "by_account": dict(c.by_account),
            "status": dict(c.status),
            "faults_injected": dict(c.faults_injected),
            "tokens": dict(c.tokens),
            "rate_limited": dict(c.rate_limited),
            "rate_limited_at": {k: list(v) for k, v in self.limited_at.items()},
            "tools_calls": c.tools_calls,
            "replays": c.replays,
            "zai_keys_seen": c.zai_keys_seen,
            "without_idempotency_key": c.without_idempotency_key,
            "accounts": [a.public() for a in self.accounts.values()],
            "fault_script": list(self.script),
        }
