"""What every language run needs from outside, and its settings: one instance per worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.metrics import Metrics
from service.pipeline.durable import Durable
from service.pipeline.ports import JobStore, Memory
from service.pipeline.translation.estimate import TokenEstimator
from service.pipeline.translation.glossary_files import UploadCache
from service.pipeline.translation.memory import InFlight
from service.pipeline.translation.packing_breaker import PackingBreaker


@dataclass(frozen=True)
class RunConfig:
    chunk_chars: int = 3000
    chunk_tokens: int = 1500  # a longer text is split by tokens (Z.ai's count): calls.py
    packing: bool = True
    call_concurrency: int = 8  # upstream calls at once for one language


@dataclass(frozen=True)
class RunDeps:
    store: JobStore
    memory: Memory
    files: UploadCache
    metrics: Metrics
    durable: Durable
    config: RunConfig = RunConfig()
    packing: PackingBreaker = field(default_factory=PackingBreaker)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    inflight: InFlight = field(default_factory=InFlight)  # shared by the worker's runs
