"""The benchmark suite's plumbing at a tiny size, so it does not rot: `bench.py overhead` with
its baseline, against the session's broker, writing JSON, Markdown and a plot. The numbers of
such a small run mean nothing; that it runs and reports every target does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.kafka


def test_a_tiny_overhead_run_reports_every_target(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "overhead"]
    command += ["--requests", "40", "--paced", "5", "--no-plain", "--results", str(tmp_path)]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "overhead-sqlite.json").read_text())
    runs = [r["run"] for r in result["rows"]]
    assert runs == ["bare loop (worker's HTTP stack)", "worker"]
    assert all(r["requests"] == 40 and r["req_per_s"] > 0 for r in result["rows"])
    assert {t["verdict"] for t in result["targets"]} <= {"met", "missed"}
    assert len(result["targets"]) == 3  # same-stack ratio, CPU, paced p99 added
    assert "| worker |" in (tmp_path / "overhead-sqlite.md").read_text()
    assert (tmp_path / "overhead-sqlite.png").stat().st_size > 10_000


def test_a_scenario_that_cannot_run_exits_non_zero(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "memory", "--postgres"]
    command += ["--requests", "5", "--results", str(tmp_path)]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",  # nothing listens
    }
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "could not run" in done.stdout
    assert not (tmp_path / "memory-postgresql.json").exists()


def test_stage_timings_times_every_stage_of_a_tiny_paced_run(kafka_bootstrap_servers: str) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "stage_timings.py")]
    command += ["--requests", "8", "--in-flight", "4", "--latency-ms", "20"]
    command += ["--paced", "6", "--paced-rate", "30"]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {
        line[:44].strip(): line[44:].split()
        for line in done.stdout.splitlines()
        if len(line) > 44 and line[44:].split() and line[44:].split()[0].isdigit()
    }
    # the paced phase alone: six jobs, each once through every stage
    for stage in (
        "job: claimed → completed",
        "upstream call (Z.ai)",
        "completion + memory (group commit)",
    ):
        assert rows[stage][0] == "6", rows
    assert int(rows["end to end: request → result event"][0]) == 6
    assert float(rows["end to end: request → result event"][1]) > 20  # the upstream latency
    assert int(rows["event loop lag (10 ms sleeps)"][0]) > 0
