"""Runtime configuration of the Z.ai simulator, and its pure latency model."""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LatencyModel = Literal["fixed", "uniform", "lognormal"]
Mode = Literal["sync", "async"]
UnknownGlossary = Literal["error", "ignore"]
#: "nested": `{"error": {"code": "<digits>", "message"}, "request_id"}`, as observed in real
#: replies; "flat": `{"code": <int>, "message"}`, the `Error` schema of Z.ai's OpenAPI document.
ErrorEnvelope = Literal["nested", "flat"]
#: Where an async-result success puts the assistant messages: "message" (an array, Z.ai's OpenAPI
#: `CommonAgentResultResponse`) or "messages" (bigmodel's async-result page).
AsyncResultField = Literal["message", "messages"]

#: Exactly the formats Z.ai documents for purpose=agent (zai-api.md §3); bigmodel adds more.
DEFAULT_EXTENSIONS = frozenset(["pdf", "doc", "xlsx", "ppt", "txt", "jpg", "png"])


class SimConfig(BaseModel):
    """Every knob of the simulator; all of them can be changed at run time via `/_sim/config`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_keys: tuple[str, ...] = ()  # empty: any non-empty key is accepted
    latency_model: LatencyModel = "fixed"
    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)  # half-width for "uniform"
    latency_sigma: float = Field(default=0.5, ge=0)  # log-space sigma for "lognormal"
    # General Translation answers synchronously (every Z.ai source); "async" is our drill mode.
    mode: Mode = "sync"
    error_envelope: ErrorEnvelope = "nested"
    async_result_field: AsyncResultField = "message"
    async_pending_seconds: float = Field(default=2.0, ge=0)
    slow_seconds: float = Field(default=30.0, ge=0)
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_files: int = Field(default=100, ge=0)  # per API key
    allowed_extensions: frozenset[str] = DEFAULT_EXTENSIONS
    allowed_purposes: frozenset[str] = frozenset(["agent"])
    retention_days: float = Field(default=180.0, gt=0)
    unknown_glossary: UnknownGlossary = "error"
    seed: int | None = None  # seeds latency sampling and ids; None: non-deterministic

    def updated(self, patch: dict[str, Any]) -> SimConfig:
        """A validated copy with `patch` applied (raises pydantic.ValidationError)."""
        return SimConfig.model_validate({**self.model_dump(), **patch})

    def public(self) -> dict[str, Any]:
        """JSON-ready view; API keys are never echoed, only counted."""
        data = self.model_dump(mode="json", exclude={"api_keys"})
        data["api_keys_count"] = len(self.api_keys)
        data["allowed_extensions"] = sorted(self.allowed_extensions)
        data["allowed_purposes"] = sorted(self.allowed_purposes)
        return data


def sample_latency_ms(config: SimConfig, rng: random.Random) -> float:
    """Delay of one reply: fixed, uniform around latency_ms, or lognormal with that median."""
    base = config.latency_ms
    if config.latency_model == "uniform":
        return max(
            0.0, rng.uniform(base - config.latency_jitter_ms, base + config.latency_jitter_ms)
        )
    if config.latency_model == "lognormal" and base > 0:
        return rng.lognormvariate(math.log(base), config.latency_sigma)
    return base
