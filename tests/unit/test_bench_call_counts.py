"""The call-count A/B: the hook profiles only a `python -m service worker` process, and
call_counts.py compares two such profiles by module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "benchmarks" / "call_count_hook"


def _fake_service(tmp: Path, loops: int) -> Path:
    """A stand-in `service` package whose `worker` command calls a function `loops` times."""
    package = tmp / f"run{loops}" / "service"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    body = f"def step():\n    return 1\n\nfor _ in range({loops}):\n    step()\n"
    (package / "__main__.py").write_text(body)
    return package.parent


def _run(cwd: Path, out: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(HOOK), "CALL_COUNT_OUT": str(out)}
    subprocess.run([sys.executable, "-m", "service", *args], cwd=cwd, env=env, check=True)


def test_the_hook_profiles_a_worker_and_nothing_else(tmp_path: Path) -> None:
    cwd = _fake_service(tmp_path, 10)
    _run(cwd, tmp_path / "sim", "sim")
    _run(cwd, tmp_path / "worker", "worker")
    assert not list(tmp_path.glob("sim.*.pstats"))
    assert len(list(tmp_path.glob("worker.*.pstats"))) == 1


def test_call_counts_compares_two_runs_by_module(tmp_path: Path) -> None:
    for loops in (100, 300):
        _run(_fake_service(tmp_path, loops), tmp_path / f"w{loops}", "worker")
    (a,), (b,) = tmp_path.glob("w100.*.pstats"), tmp_path.glob("w300.*.pstats")
    script = ROOT / "benchmarks" / "call_counts.py"
    report = subprocess.run(
        [sys.executable, str(script), str(a), str(b)], capture_output=True, text=True, check=True
    ).stdout
    ours = next(line for line in report.splitlines() if line.startswith("service's own"))
    # step() 100 and 300 times, plus the package's two modules run once each.
    assert ours.split()[2:4] == ["102", "302"], report
    assert "service/__main__.py" in report
