"""Fault plans: which failure (if any) the next call of a route gets. Pure: no I/O, seeded RNG.

A plan holds a script, consumed one entry per call ("ok" = no fault), then per-fault rates.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Route(StrEnum):
    agents = "agents"
    async_result = "async_result"
    files_upload = "files_upload"
    files_list = "files_list"
    files_delete = "files_delete"
    tokenizer = "tokenizer"


class Kind(StrEnum):
    error = "error"  # an HTTP error with the canonical error envelope
    slow = "slow"  # sleep slow_seconds, then reply normally
    drop = "drop"  # close the connection without any HTTP response
    malformed_json = "malformed_json"  # 200 with a truncated JSON body
    finish_reason = "finish_reason"  # 200 translation whose finish_reason is not "stop"
    async_failed = "async_failed"  # the async task ends with status "failed"
    content = "content"  # a 200 translation that mangles placeholders or ignores the glossary


@dataclass(frozen=True)
class Fault:
    name: str
    kind: Kind
    status: int = 200
    code: str = ""
    message: str = ""
    retry_after: int | None = None
    finish_reason: str = ""


# name -> (HTTP status, business code, message); messages follow observed texts (zai-api.md §8.3).
_ERRORS: dict[str, tuple[int, str, str]] = {
    "429_1302": (429, "1302", "Rate limit reached for requests"),
    "429_1303": (429, "1303", "Request frequency too high, please slow down"),
    "429_1305": (429, "1305", "The service may be temporarily overloaded, please try again later"),
    "429_1113": (429, "1113", "Insufficient balance or no resource package. Please recharge."),
    "429_1308": (429, "1308", "Usage limit reached for 5 hour. Your limit will reset at {reset}"),
    "429_1304": (429, "1304", "Daily call limit for this API reached, please try again tomorrow"),
    "400_1210": (400, "1210", "Invalid API parameter, please check the documentation."),
    "400_1214": (400, "1214", "The messages parameter is illegal. Please check the documentation."),
    "400_1301": (400, "1301", "System detected potentially unsafe or sensitive content in input."),
    "401_1002": (401, "1002", "Authorization Token expired or incorrect"),
    # 434: no permission for the file API (in beta; zai-api.md §3, §8.2). Its business code is
    # not documented: the body repeats the status, as for 500 and 503.
    "434": (434, "434", "You do not have permission to use the file API"),
    "500": (500, "500", "Internal server error"),
    "503": (503, "503", "Service temporarily unavailable"),
    "1234": (500, "1234", "Network error, error id: {error_id}, please contact customer service"),
}
_SIMPLE = {"slow": Kind.slow, "drop": Kind.drop, "malformed_json": Kind.malformed_json}
_FINISH_REASONS = frozenset(["sensitive", "length", "network_error"])
#: Content faults: names of `service.sim.translate.Corruption` members.
CONTENT_FAULTS = frozenset(
    ["placeholder_drop", "placeholder_duplicate", "glossary_drop", "marker_drop"]
)
_RETRY_AFTER = re.compile(r"^(?P<base>.+)_retry_after_(?P<seconds>\d+)$")
_AGENT_ROUTES = frozenset([Route.agents, Route.async_result])

FAULT_NAMES = frozenset(
    [*_ERRORS, *_SIMPLE, *_FINISH_REASONS, *CONTENT_FAULTS, "async_failed", "ok"]
)


class FaultError(ValueError):
    """An unknown fault name, a fault that makes no sense on the route, or bad rates."""


def parse_fault(name: str, route: Route = Route.agents) -> Fault | None:
    """The fault called `name` (None for "ok"); "<error>_retry_after_<n>" adds a Retry-After."""
    if name == "ok":
        return None
    retry_after: int | None = None
    if match := _RETRY_AFTER.match(name):
        if match["base"] not in _ERRORS:
            raise FaultError(f"retry_after applies to error faults only: {name!r}")
        base, retry_after = match["base"], int(match["seconds"])
    else:
        base = name
    if base in _ERRORS:
        status, code, message = _ERRORS[base]
        return Fault(name, Kind.error, status, code, message, retry_after)
    if base in _SIMPLE:
        return Fault(name, _SIMPLE[base])
    if base in _FINISH_REASONS or base in CONTENT_FAULTS or base == "async_failed":
        if route not in _AGENT_ROUTES:
            raise FaultError(f"fault {name!r} applies only to agents and async_result")
        if base == "async_failed":
            return Fault(name, Kind.async_failed)
        if base in CONTENT_FAULTS:
            return Fault(name, Kind.content)
        return Fault(name, Kind.finish_reason, finish_reason=base)
    raise FaultError(f"unknown fault {name!r}; known: {sorted(FAULT_NAMES)}")


@dataclass
class FaultPlan:
    """Scripted faults first, then random ones by rate (checked in name order with one draw)."""

    route: Route
    script: deque[Fault | None] = field(default_factory=deque)
    rates: tuple[tuple[Fault, float], ...] = ()
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(
        cls,
        route: Route,
        script: Iterable[str] = (),
        rates: Mapping[str, float] | None = None,
        seed: int | None = None,
    ) -> FaultPlan:
        parsed_rates = tuple(
            (fault, rate)
            for name, rate in sorted((rates or {}).items())
            if (fault := parse_fault(name, route)) is not None
        )
        if any(not 0 <= rate <= 1 for _, rate in parsed_rates):
            raise FaultError("each rate must be between 0 and 1")
        if sum(rate for _, rate in parsed_rates) > 1 + 1e-9:
            raise FaultError("rates must add up to at most 1")
        steps = deque(parse_fault(name, route) for name in script)
        return cls(route, steps, parsed_rates, random.Random(seed))

    def next_fault(self) -> Fault | None:
        if self.script:
            return self.script.popleft()
        if not self.rates:
            return None
        draw = self.rng.random()
        for fault, rate in self.rates:
            if draw < rate:
                return fault
            draw -= rate
        return None

    def describe(self) -> dict[str, object]:
        return {
            "route": self.route.value,
            "script": [fault.name if fault else "ok" for fault in self.script],
            "rates": {fault.name: rate for fault, rate in self.rates},
        }


def render_message(fault: Fault, reset_at: str, error_id: str) -> str:
    """Fill the 1308 reset time and the 1234 error id into the fault's message."""
    return fault.message.format(reset=reset_at, error_id=error_id)
