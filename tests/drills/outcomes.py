"""What a drill's run came to, counted from the topics: the figures every drill records.

`Expected` says what should come out: one result event per (request, target language) and one
dead letter per bad message (known by its exact bytes). `tally` reads what the collectors got,
dedupes on `ce_id` as a consumer would, and counts sent, completed, failed by code,
dead-lettered by reason, duplicates (deliveries beyond the first of a `ce_id`), lost (expected
and never seen) and strays (seen and never expected).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from service.pipeline.contract.events import event_id
from tests.support.results import TopicCollector


@dataclass
class Expected:
    """What a run should produce."""

    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # ce_id -> (rid, lang)
    letters: dict[bytes, str] = field(default_factory=dict)  # original bytes -> reason
    sent: int = 0  # messages published

    def request(self, body: dict[str, Any]) -> None:
        """A new request: one result event per target language."""
        self.sent += 1
        for lang in body["target_langs"]:
            ce_id = event_id(body["tenant_id"], body["request_id"], lang)
            self.results[ce_id] = (body["request_id"], lang)

    def letter(self, raw: bytes, reason: str) -> None:
        """A bad message: one dead letter with this reason."""
        assert raw not in self.letters, "bad messages must differ to be told apart"
        self.sent += 1
        self.letters[raw] = reason

    def copy(self) -> None:
        """A duplicate of a request already counted: nothing new to expect."""
        self.sent += 1


@dataclass
class Tally:
    sent: int
    completed: int
    failed: Counter[str]
    dead_lettered: Counter[str]
    duplicates: int
    lost: int
    strays: int
    wrong_reason: list[str]

    def figures(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "completed": self.completed,
            "failed_by_code": dict(sorted(self.failed.items())),
            "dead_lettered_by_reason": dict(sorted(self.dead_lettered.items())),
            "duplicates": self.duplicates,
            "lost": self.lost,
        }


def tally(expected: Expected, results: TopicCollector, dlq: TopicCollector) -> Tally:
    firsts = {ce_id: got[0].event for ce_id, got in results.by_id().items()}
    letters = {ce_id: got[0].event for ce_id, got in dlq.by_id().items()}
    duplicates = len(results.received) - len(firsts) + len(dlq.received) - len(letters)
    outcomes = [firsts[i] for i in expected.results if i in firsts]
    by_bytes = {base64.b64decode(e["original_value_b64"]): e for e in letters.values()}
    wrong = [
        f"{raw[:60]!r}: {by_bytes[raw]['reason']} (expected {reason}): {by_bytes[raw]['detail']}"
        for raw, reason in expected.letters.items()
        if raw in by_bytes and by_bytes[raw]["reason"] != reason
    ]
    return Tally(
        sent=expected.sent,
        completed=sum(e["type"] == "translation.completed" for e in outcomes),
        failed=Counter(e["error_code"] for e in outcomes if e["type"] == "translation.failed"),
        dead_lettered=Counter(e["reason"] for e in letters.values()),
        duplicates=duplicates,
        lost=len(set(expected.results) - set(firsts)) + len(set(expected.letters) - set(by_bytes)),
        strays=len(set(firsts) - set(expected.results))
        + len(set(by_bytes) - set(expected.letters)),
        wrong_reason=wrong,
    )


async def settle(
    expected: Expected, results: TopicCollector, dlq: TopicCollector, within: float
) -> float:
    """Wait until every expected event has arrived (or `within` seconds); returns the arrival
    time (time.monotonic) of the last expected result event."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seen = {r.ce_id for r in results.received}
        raws = {base64.b64decode(r.event["original_value_b64"]) for r in dlq.received}
        if seen >= set(expected.results) and raws >= set(expected.letters):
            break
        await asyncio.sleep(0.2)
    wanted = set(expected.results)
    return max((r.at for r in results.received if r.ce_id in wanted), default=time.monotonic())


def run_id() -> str:
    return uuid.uuid4().hex[:6]
