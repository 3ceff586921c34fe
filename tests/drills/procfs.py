"""A process's resident memory, open files and TCP connections, read from /proc (Linux).

Three numbers for the soak drill; read by hand rather than with psutil, to add no dependency
for them. A connection is a socket of the process whose inode is ESTABLISHED in
/proc/<pid>/net/tcp or tcp6 (that table covers the whole network namespace, so it is joined
with the process's own socket inodes).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

ESTABLISHED = "01"


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the soak began
    rss_mb: float
    fds: int
    connections: int


def sample(pid: int, at: float) -> Sample:
    proc = Path(f"/proc/{pid}")
    rss_kb = next(
        int(line.split()[1])
        for line in (proc / "status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    sockets: set[str] = set()
    fds = 0
    for fd in os.listdir(proc / "fd"):
        fds += 1
        try:
            target = os.readlink(proc / "fd" / fd)
        except OSError:
            continue  # closed since the listing
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    established = 0
    for table in ("tcp", "tcp6"):
        for line in (proc / "net" / table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == ESTABLISHED and fields[9] in sockets:
                established += 1
    return Sample(at, round(rss_kb / 1024, 1), fds, established)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2 or len({t for t, _ in points}) < 2:
        return 0.0
    fit = statistics.linear_regression([t for t, _ in points], [v for _, v in points])
    return round(fit.slope * 3600, 2)
