"""The worker freezes its start-up heap: full collections stop walking ~200,000 objects that
live as long as the process (docs/benchmarks.md, the paced latency)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from service.worker.app import freeze_heap

    class Node:
        pass

    node = Node()
    node.me = node  # a cycle: only the collector frees it
    dead = weakref.ref(node)
    del node
    freeze_heap()
    print(dead() is None, gc.get_freeze_count())
    """
)


def test_the_start_up_heap_is_frozen_and_its_garbage_collected_first() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "True"  # collected before the freeze, not frozen with the rest
    assert int(out[1]) > 50_000  # the imported service, frozen
