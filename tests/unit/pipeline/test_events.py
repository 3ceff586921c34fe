from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from service.pipeline.contract.events import ce_headers, dead_letter, event_id


@pytest.mark.parametrize(
    "parts",
    [("acme", "r1", "de"), ("t", "réquest ✓", "zh-CN"), ("", "", ""), ("a" * 300, "x", "y")],
)
def test_event_id_is_the_uuid5_it_always_was(parts: tuple[str, str, str]) -> None:
    namespace = uuid.UUID("7b1f9a52-3f0e-4c53-9a57-2f3b5d0e6c11")  # ids in stored rows
    assert event_id(*parts) == str(uuid.uuid5(namespace, "\x1f".join(parts)))


def test_event_id_is_stable_and_distinct() -> None:
    assert event_id("acme", "r1", "de") == event_id("acme", "r1", "de")
    ids = {
        event_id("acme", "r1", "de"),
        event_id("acme", "r1", "fr"),
        event_id("globex", "r1", "de"),
    }
    assert len(ids) == 3
    # No ambiguity from concatenation: ("a", "bc") differs from ("ab", "c").
    assert event_id("a", "bc", "de") != event_id("ab", "c", "de")


def test_cloudevents_headers() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    h = ce_headers(ce_type="translation.completed", ce_id="id-1", subject="r1", now=now)
    assert h == {
        "ce_specversion": "1.0",
        "ce_id": "id-1",
        "ce_type": "translation.completed",
        "ce_source": "urn:zai-l10n:worker",
        "ce_time": "2026-11-28T12:00:00Z",
        "content-type": "application/json",
        "ce_subject": "r1",
    }


def test_dead_letter_keeps_original_bytes() -> None:
    raw = b"\xff not json"
    letter = dead_letter(
        reason="not_utf8",
        detail="x",
        topic="t",
        partition=2,
        offset=41,
        key=b"acme",
        headers={"h": "v"},
        value=raw,
    )
    assert base64.b64decode(letter.original_value_b64) == raw
    assert (letter.source_partition, letter.source_offset, letter.original_key) == (2, 41, "acme")
