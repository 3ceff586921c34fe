"""The outbox: rows claimed for sending and marked sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row claimed for sending; its headers were fixed when it was written."""

    id: int
    topic: str
    key: str | None
    payload: Mapping[str, Any]
    headers: Mapping[str, str]
    body: bytes | None = None  # the payload's JSON as stored, when the store has it at hand


class Outbox(Protocol):
    async def claim(self, relay: str, limit: int) -> list[PendingEvent]:
        """Unsent rows in id order, claimed for `relay` (exclusive across relays)."""
        ...

    async def mark_sent(self, ids: Sequence[int]) -> None:
        """Record these rows sent; may be deferred to a later write (see `settle`)."""
        ...

    async def settle(self) -> None:
        """Every deferred "sent" written now: a relay settles before it claims, so it never
        claims (and sends again) a row it sent whose mark is still waiting."""
        ...
