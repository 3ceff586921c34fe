"""Where a py-spy profile spends its time: top functions by own and total samples.

    .venv/bin/python benchmarks/profile_summary.py PROFILE.txt[.gz] [--top 25] [--event-loop]

Reads py-spy's raw (collapsed) format: `frame;frame;...;frame COUNT` per line. `--event-loop`
counts only the event loop's thread (stacks through `Runner.run`): the worker is limited by
that one thread, while the samples of SQLite's thread, the log writer's and the span
exporter's run beside it (and a thread waiting on a queue is sampled as busy).
"""

from __future__ import annotations

import argparse
import gzip
import re
from collections import Counter
from pathlib import Path

# "function (path/to/module.py:123)" -> "module.py:function"
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<path>[^:]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["path"]
    short = "/".join(path.split("/")[-2:]) if "site-packages" not in path else _package(path)
    return f"{short}:{m['fn']}"


def _package(path: str) -> str:
    rest = path.split("site-packages/", 1)[1]
    return rest.split("/")[0] + "/" + rest.split("/")[-1]


# Where a sample's time goes, by the first of these found anywhere on its stack (so the
# SQLAlchemy work under a store adapter counts as the database's, httpx's under the Z.ai
# client as HTTP's).
AREAS = [
    # py-spy names OpenTelemetry's modules without their namespace (trace/__init__.py); the
    # OTLP exporter posts through requests/urllib3, which nothing else in the worker uses.
    (
        "tracing: OpenTelemetry spans, context, export",
        (
            "opentelemetry",
            "service/tracing.py",
            "_shared_internal/",
            "trace/__init__.py",
            "trace/span.py",
            "trace/sampling.py",
            "attributes/__init__.py",
            "requests/",
            "urllib3/",
        ),
    ),
    ("SQLite executing (aiosqlite's thread)", ("_connection_worker_thread",)),
    ("database: SQLAlchemy, drivers, store adapters", ("sqlalchemy/", "service/store/", "asyncpg")),
    ("HTTP to Z.ai: httpx, aiohttp, the Z.ai client", ("httpx/", "aiohttp/", "service/zai/")),
    ("Kafka: aiokafka, consumer, relay", ("aiokafka/", "service/kafka/")),
    ("pipeline and l10n core", ("service/pipeline/", "service/l10n/", "service/glossary/")),
    ("event loop (uvloop, asyncio)", ("uvloop", "asyncio/")),
]


def area(stack: str) -> str:
    for name, needles in AREAS:
        if any(n in stack for n in needles):
            return name
    return "other"


def summarise(text: str, top: int, *, event_loop: bool = False) -> str:
    own, total, samples = Counter[str](), Counter[str](), 0
    packages, areas = Counter[str](), Counter[str]()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if event_loop and "Runner.run (" not in stack:
            continue
        n, frames = int(count), [_name(f) for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
        packages[frames[-1].split("/")[0].split(":")[0]] += n
        areas[area(stack)] += n
    lines = [f"{samples} samples", "", "by area (first match on the stack):"]
    lines += [f"  {100 * c / samples:5.1f}%  {a}" for a, c in areas.most_common()]
    lines += ["", "own time (leaf frames):"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", "by package or module of the leaf frame:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in packages.most_common(top)]
    lines += ["", "total time (anywhere on the stack), service code:"]
    ours = [(f, c) for f, c in total.most_common() if f.split(":")[0].split("/")[0] in _OURS]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in ours[:top]]
    return "\n".join(lines)


_OURS = {"pipeline", "store", "kafka", "l10n", "zai", "worker", "glossary"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--event-loop", action="store_true", help="the event loop's thread only")
    args = p.parse_args()
    raw = args.profile.read_bytes()
    text = gzip.decompress(raw) if args.profile.suffix == ".gz" else raw
    print(summarise(text.decode(), args.top, event_loop=args.event_loop))


if __name__ == "__main__":
    main()
