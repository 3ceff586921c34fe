"""A scenario's result: rows, targets met or missed, notes and a plot, written as JSON,
Markdown and PNG under benchmarks/results/ and printed with rich."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from benchmarks.suite.infra import ROOT

RESULTS = ROOT / "benchmarks" / "results"
# Wide enough for the tables when the output is a log file, not a terminal.
console = Console(width=max(140, shutil.get_terminal_size().columns))


@dataclass
class Target:
    name: str
    value: float | str
    met: bool

    @property
    def verdict(self) -> str:
        return "met" if self.met else "missed"


@dataclass
class Result:
    scenario: str
    rows: list[dict[str, Any]]
    targets: list[Target]
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw series, kept in the JSON
    plot: Callable[[Figure], None] | None = None


def meta(database: str, started: float, load_before: tuple[float, ...]) -> dict[str, Any]:
    return {
        "database": database,
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "command": " ".join(["benchmarks/bench.py", *_argv()]),
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "minutes": round((time.time() - started) / 60, 1),
    }


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return ""


def write(result: Result, info: dict[str, Any], directory: Path = RESULTS) -> list[Path]:
    """JSON, Markdown and (if the scenario draws one) PNG; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{result.scenario}-{info['database'].lower()}"
    body = {
        **info,
        "rows": result.rows,
        "targets": [asdict(t) | {"verdict": t.verdict} for t in result.targets],
        "notes": result.notes,
        "data": result.data,
    }
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    paths[0].write_text(json.dumps(body, indent=2, default=float) + "\n")
    png = stem.with_suffix(".png") if result.plot else None
    paths[1].write_text(markdown(result, info, png))
    if png is not None and result.plot is not None:
        fig = Figure(figsize=(8, 4.5), dpi=110, layout="constrained")
        result.plot(fig)
        fig.savefig(png)
        paths.append(png)
    return paths


def markdown(result: Result, info: dict[str, Any], png: Path | None) -> str:
    head = list(result.rows[0]) if result.rows else []
    before = ", ".join(str(x) for x in info["load_average_before"])
    after = ", ".join(str(x) for x in info["load_average_after"])
    lines = [
        f"### {result.scenario} ({info['database']}, {info['date']})",
        "",
        f"`{info['command']}` at {info['commit']}, {info['minutes']} min; load average "
        f"{before} before and {after} after, on {info['cpus']} CPUs.",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        *("| " + " | ".join(_cell(r[k]) for k in head) + " |" for r in result.rows),
        "",
        *(f"- {t.name}: **{_cell(t.value)}** ({t.verdict})" for t in result.targets),
        *(f"- {note}" for note in result.notes),
        "",
    ]
    if png is not None:
        lines += [f"![{result.scenario}]({png.name})", ""]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def show(result: Result, info: dict[str, Any], paths: list[Path]) -> None:
    table = Table(title=f"{result.scenario} ({info['database']})")
    head = list(result.rows[0]) if result.rows else []
    for key in head:
        table.add_column(key)
    for row in result.rows:
        table.add_row(*(_cell(row[k]) for k in head))
    console.print(table)
    for t in result.targets:
        colour = "green" if t.met else "red"
        console.print(f"{t.name}: {_cell(t.value)} [{colour}]{t.verdict.upper()}[/{colour}]")
    for note in result.notes:
        console.print(f"[dim]{note}[/dim]")
    console.print("written: " + ", ".join(_shown(p) for p in paths))


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
