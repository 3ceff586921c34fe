"""Benchmark scenarios, each with its baseline in the same invocation; ratios are what count.

    .venv/bin/python benchmarks/bench.py SCENARIO [options] [--postgres] [--results DIR]

Each scenario starts (or reuses, with KAFKA_BOOTSTRAP_SERVERS) a local Kafka broker, the Z.ai
simulator in its own process, and a fresh database per run: SQLite in a temp dir, or with
--postgres a private PostgreSQL cluster (or the server in DATABASE_URL). It shows progress,
then writes <scenario>-<database>.json, .md and .png under benchmarks/results/ and says of each
target whether it was met or missed. It exits non-zero when the scenario cannot run (a process
died, results stopped coming); a missed target is a result, not an error.

Scenarios (`bench.py SCENARIO --help` for the options; docs/benchmarks.md for the numbers):
  latency   latency hiding: 1 s upstream (fixed, and lognormal), in flight 1 … 256, against a
            plain FastStream subscriber; target ≥ 0.8 × in-flight ÷ latency at 64
  overhead  zero latency: the worker against a bare aiokafka → httpx → aiokafka loop; req/s,
            CPU ms per request, service-added p50/p99; targets ≥ 0.5 × and ≤ 5 ms
  economy   10,000 segments, 30 % repeats, 3 tenants with glossaries, 2 languages: uploads,
            agent calls against their bounds, packing, memory hits, tokens; packing off as
            the baseline
  memory    a backlog of 100,000 requests at 50 ms: the worker's peak RSS and its slope,
            against its idle RSS; target < 300 MB and flat
  scaleout  two workers in one group on 4 partitions, latency-bound, against one; ≥ 1.8 ×
  tracing   the worker with traces off, then on (OTLP/HTTP): CPU per request, ≤ 1.25 ×; and
            what tracing off costs a request, ≤ 0.05 ms
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.suite import economy, latency, memory, overhead, scaleout, tracing
from benchmarks.suite.infra import infra
from benchmarks.suite.report import RESULTS, console, meta, show, write

SCENARIOS = {
    "latency": latency,
    "overhead": overhead,
    "economy": economy,
    "memory": memory,
    "scaleout": scaleout,
    "tracing": tracing,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="scenario", required=True)
    for name, module in SCENARIOS.items():
        doc = (module.__doc__ or "").strip()
        s = sub.add_parser(name, description=doc, help=doc.splitlines()[0])
        s.formatter_class = argparse.RawDescriptionHelpFormatter
        s.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
        s.add_argument("--results", type=Path, default=RESULTS, help="where files go")
        module.add_arguments(s)
    return p


def main() -> int:
    args = parser().parse_args()
    started, load = time.time(), os.getloadavg()
    try:
        with infra(args.postgres) as env:
            result = SCENARIOS[args.scenario].run(args, env)
            database = env.database_name
    except Exception:
        console.print_exception(max_frames=8)
        console.print(f"[red]{args.scenario}: could not run[/red]")
        return 1
    info = meta(database, started, load)
    show(result, info, write(result, info, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
