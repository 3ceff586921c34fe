"""Python function calls of two worker runs, compared: a CPU-independent A/B.

    .venv/bin/python benchmarks/call_counts.py A.pstats B.pstats [--top 15]

The files come from `benchmarks/call_count_hook` (cProfile of the benchmark's worker). Both runs
must have drained the same requests; the totals, the service's own calls, and the modules whose
counts moved most are printed with B ÷ A. Counts are exact where CPU time drifts by a third
between runs on the shared machine (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import pstats
from collections import Counter


def _by_module(path: str) -> Counter[str]:
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]  # public since 2.x, untyped
    counts: Counter[str] = Counter()
    for (file, _line, _fn), (_prim, calls, *_rest) in stats.items():
        counts[_module(file)] += calls
    return counts


def _module(file: str) -> str:
    """service/... for ours, the package for a library, the file for the standard library."""
    if "/service/" in file:
        return "service/" + file.split("/service/", 1)[1]
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/")[0]
    return file.rsplit("/", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    a, b = _by_module(args.a), _by_module(args.b)
    ours_a = sum(v for k, v in a.items() if k.startswith("service/"))
    ours_b = sum(v for k, v in b.items() if k.startswith("service/"))
    total_a, total_b = sum(a.values()), sum(b.values())
    print(f"all calls:      {total_a:>12,} {total_b:>12,}  B/A {total_b / total_a:.3f}")
    print(f"service's own:  {ours_a:>12,} {ours_b:>12,}  B/A {ours_b / ours_a:.3f}")
    print("\nmodules whose counts moved most (A, B, B - A):")
    moved = sorted(a.keys() | b.keys(), key=lambda k: -abs(b[k] - a[k]))
    for key in moved[: args.top]:
        print(f"  {key:60} {a[key]:>10,} {b[key]:>10,} {b[key] - a[key]:>+10,}")


if __name__ == "__main__":
    main()
