from __future__ import annotations

import asyncio
import json
import logging

from service.logs import JsonFormatter, QuietRepeats, log_context


def _line(logger: logging.Logger, msg: str, **extra: object) -> dict[str, object]:
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, msg, (), None, extra=extra)
    return json.loads(JsonFormatter().format(record))


def test_context_tags_every_line_and_is_scoped() -> None:
    log = logging.getLogger("t")
    with log_context(tenant_id="acme", request_id="r1"):
        line = _line(log, "inside", attempt=2)
        assert (line["tenant_id"], line["request_id"], line["attempt"]) == ("acme", "r1", 2)
    assert "tenant_id" not in _line(log, "outside")


async def test_tasks_inherit_the_context() -> None:
    seen: list[object] = []

    async def child() -> None:
        seen.append(_line(logging.getLogger("t"), "child")["request_id"])

    with log_context(request_id="r9"):
        await asyncio.create_task(child())
    assert seen == ["r9"]


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, args, None)


def test_a_librarys_repeated_complaint_passes_once_per_window_then_says_how_many() -> None:
    now = [0.0]
    quiet = QuietRepeats(window=30.0, clock=lambda: now[0])
    refused = "Unable connect to node with id %s: %s"
    assert quiet.filter(_record("aiokafka", refused, 1, "refused"))
    for second in range(1, 20):  # a broker outage: the same line over and over
        now[0] = float(second)
        assert not quiet.filter(_record("aiokafka", refused, 1, "refused"))
    # Another kind of complaint, or another library's, is not held back by the first.
    assert quiet.filter(_record("aiokafka.consumer.fetcher", "Failed fetch messages from %s", 1))
    now[0] = 31.0
    again = _record("aiokafka", refused, 1, "refused")
    assert quiet.filter(again)
    assert json.loads(JsonFormatter().format(again))["repeated"] == 19


def test_the_services_own_lines_are_never_held_back() -> None:
    quiet = QuietRepeats(clock=lambda: 0.0)
    assert all(
        quiet.filter(_record("service.pipeline.jobs.executor", "job crashed")) for _ in range(5)
    )
