"""How big a drill runs: `short` in CI (the default), `long` by `bash scripts/drills.sh`.

Each drill reads its sizes from `pick(short=..., long=...)`, so one test body serves both, and
records its figures with `record(...)`: printed, and written to
`benchmarks/results/drills/<drill>-<scale>.json` for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "drills"


def scale() -> str:
    value = os.environ.get("DRILL_SCALE", "short")
    if value not in ("short", "long"):
        raise ValueError(f"DRILL_SCALE must be short or long, not {value!r}")
    return value


def pick(*, short: T, long: T) -> T:
    return long if scale() == "long" else short


def record(drill: str, figures: dict[str, Any]) -> Path:
    """Print a drill's figures and keep them as JSON beside the benchmark results."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    body = {
        "drill": drill,
        "scale": scale(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    path = RESULTS / f"{drill}-{scale()}.json"
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    print(f"\n[drill {drill} ({scale()})] " + json.dumps(figures, sort_keys=True))
    return path
