"""JSON log lines on stderr. Context (tenant, request id, ...) comes from `extra=` and from
`log_context`, which tags every line logged while a job runs, in every task it spawns."""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import logging.handlers
import queue
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
# uvicorn's `color_message` (its message with ANSI colours) is dropped too.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
    "log_context",
}
# Immutable mapping as the default: contexts replace it, never mutate it.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line in this context (asyncio tasks inherit it)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "log_context", None) or _context.get())
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class QuietRepeats(logging.Filter):
    """A library's identical complaint (same logger, level and message template) passes once
    per `window` seconds; the next one that passes carries `repeated`, how many were held
    back. Why: during a 20 s broker outage aiokafka logs about 1,500 ERROR lines of a handful
    of kinds (docs/reliability.md), which drown the service's own lines and trip log-based
    alerts for an outage `/readyz` already reports. The service's own loggers are untouched."""

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("aiokafka",),
        window: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes, self._window, self._clock = prefixes, window, clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key, now = (record.name, record.levelno, str(record.msg)), self._clock()
        last, held = self._seen.get(key, (float("-inf"), 0))
        if now - last < self._window:
            self._seen[key] = (last, held + 1)
            return False
        if len(self._seen) > 1_000:  # templates are few; formatted messages could be many
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.repeated = held
        return True


class _Enqueue(logging.handlers.QueueHandler):
    """Hands records to the writer thread with what they need from this one: the message
    merged with its arguments, a traceback as text, and the job's context (a contextvar,
    unknown to the writer thread)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        record.log_context = _context.get()
        return record


_listener: logging.handlers.QueueListener | None = None


def configure_logging(level: str = "INFO") -> None:
    """Lines are formatted and written by a thread of their own: a write to stderr is a
    system call that blocks, and the worker logs a line per job (4 % of its event loop's time
    at 350 jobs/s, docs/benchmarks.md)."""
    global _listener
    if _listener is not None:
        _listener.stop()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(QuietRepeats())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # httpx logs every request at INFO: a line per agent call, which the Z.ai client's own
    # logs (retries, failures) and metrics already cover.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@atexit.register
def _flush_logs() -> None:
    """What waits for the writer thread is written before the process exits."""
    if _listener is not None:
        _listener.stop()
