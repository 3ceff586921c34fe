"""When packing keeps failing for a tenant and language, stop packing there for a while.

A packed call whose markers do not come back is paid for and then redone by halves, so packing
that fails most of the time costs more than it saves. Some content does that (a tenant whose
segments are themselves lists of lines, a language the model reorders), so the breaker counts
marker losses per (tenant, target language): after `pause_after` losses in a row it stops
packing there for `pause_seconds`; the first packed call after the pause decides again (one
success closes it, one loss pauses it anew). State is per worker process and forgotten on
restart, which only costs a few packed calls to learn again.

Written by hand rather than with a circuit-breaker library: those guard a failing dependency
(exceptions, timeouts), while this counts a business outcome of calls that succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Lane:
    losses: int = 0
    paused_until: float = 0.0


@dataclass
class PackingBreaker:
    pause_after: int = 3
    pause_seconds: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _lanes: dict[tuple[str, str], _Lane] = field(default_factory=dict)

    def allows(self, tenant_id: str, lang: str) -> bool:
        """Whether to pack for this tenant and language now."""
        lane = self._lanes.get((tenant_id, lang))
        return lane is None or self.clock() >= lane.paused_until

    def record(self, tenant_id: str, lang: str, *, markers_kept: bool) -> None:
        """The outcome of one packed call."""
        key = (tenant_id, lang)
        if markers_kept:
            self._lanes.pop(key, None)
            return
        lane = self._lanes.setdefault(key, _Lane())
        lane.losses += 1
        if lane.losses >= self.pause_after:
            lane.paused_until = self.clock() + self.pause_seconds
            lane.losses = self.pause_after - 1  # after the pause, one more loss pauses again

    def paused(self) -> int:
        """Lanes paused now (for a gauge)."""
        now = self.clock()
        return sum(1 for lane in self._lanes.values() if now < lane.paused_until)
