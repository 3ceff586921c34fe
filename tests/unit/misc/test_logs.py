from __future__ import annotations

import asyncio
import json
import logging

from service.logs import JsonFormatter, log_context


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
