"""cProfile for a worker started by the benchmarks, when CALL_COUNT_OUT is set.

    PYTHONPATH=benchmarks/call_count_hook CALL_COUNT_OUT=/tmp/run-a \\
        .venv/bin/python benchmarks/bench.py overhead --requests 5000

Python imports `sitecustomize` at start-up from the path; this one profiles only a
`python -m service worker` process (the benchmark's worker, not its load generator, the
simulator or the bare loop) and writes `CALL_COUNT_OUT.<pid>.pstats` when the worker exits.
Calls counted this way do not depend on how busy the shared machine is, where CPU time does;
`benchmarks/call_counts.py` compares two runs.
"""

from __future__ import annotations

import atexit
import os
import sys

_OUT = os.environ.get("CALL_COUNT_OUT")
_ARGV = getattr(sys, "orig_argv", [])

if _OUT and _ARGV[-3:] == ["-m", "service", "worker"]:
    import cProfile

    _profile = cProfile.Profile()
    _profile.enable()

    def _dump() -> None:
        _profile.disable()
        _profile.dump_stats(f"{_OUT}.{os.getpid()}.pstats")

    atexit.register(_dump)
