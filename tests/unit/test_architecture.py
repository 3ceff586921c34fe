"""Structural rules for the code under service/, checked statically with `ast`."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"
# Alembic revisions are generated, append-only history: their length is not ours to shape.
EXCLUDED = ("store/migrations",)
MAX_FUNCTION_LINES = 60


def long_functions(root: Path = SERVICE, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`path:line name (N lines)` for every def (nested and methods too) spanning over `limit`."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        inside = path.relative_to(root).as_posix()
        if any(inside.startswith(excluded + "/") for excluded in EXCLUDED):
            continue
        rel = path.relative_to(root.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            # From the `def` line (decorators not counted) to the body's last line.
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append((rel, node.lineno, f"{node.name} ({lines} lines)"))
    return [f"{rel}:{line} {what}" for rel, line, what in sorted(found)]


def test_no_function_in_service_is_longer_than_60_lines() -> None:
    # No exemptions: a long function is split, not listed here.
    offenders = long_functions()
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)


def test_no_function_in_the_dev_tooling_is_longer_than_60_lines() -> None:
    # devstack/ left the package (it is in no wheel), not the project's rules.
    offenders = long_functions(SERVICE.parent / "devstack")
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)


def _def(name: str, lines: int, indent: str = "", prefix: str = "def") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))
    return f"{indent}{prefix} {name}() -> None:\n{body}"


def test_the_check_sees_every_kind_of_def_and_skips_migrations(tmp_path: Path) -> None:
    root = tmp_path / "service"
    (root / "store" / "migrations" / "versions").mkdir(parents=True)
    (root / "store" / "migrations" / "versions" / "0001.py").write_text(_def("upgrade", 99))
    (root / "ok.py").write_text("@decorator\n" * 5 + _def("exactly_60", 60))
    (root / "mod.py").write_text(
        _def("plain", 61)
        + _def("coro", 62, prefix="async def")
        + "class C:\n"
        + _def("method", 63, indent="    ")
        + "def outer() -> None:\n"
        + _def("inner", 64, indent="    ")
    )
    assert long_functions(root) == [
        "service/mod.py:1 plain (61 lines)",
        "service/mod.py:62 coro (62 lines)",
        "service/mod.py:125 method (63 lines)",
        "service/mod.py:188 outer (65 lines)",
        "service/mod.py:189 inner (64 lines)",
    ]


def gathers(root: Path) -> list[str]:
    """Calls of `gather` (any module's): it does not cancel the others when one fails."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "gather":
                    found.append(f"{path.name}:{node.lineno}")
    return found


def test_the_pipeline_runs_concurrent_work_in_task_groups_not_gather() -> None:
    # In the pipeline a failure must cancel its siblings (asyncio.TaskGroup); gather would let
    # them run on, calling Z.ai (and billing) for work that has already failed.
    assert gathers(SERVICE / "pipeline") == []


def test_the_gather_check_finds_a_gather(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import asyncio\nasync def f():\n    await asyncio.gather()\n")
    assert len(gathers(tmp_path)) == 1


def otel_imports(root: Path) -> dict[str, set[str]]:
    """Module path -> the opentelemetry modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] == "opentelemetry":
                    found.setdefault(path.relative_to(root.parent).as_posix(), set()).add(name)
    return found


def test_only_tracing_uses_the_otel_api_and_only_bootstrap_the_sdk() -> None:
    # The core and the adapters start spans through service/tracing.py (a no-op while tracing
    # is off); the SDK, the exporter and the instrumentations are wiring: bootstrap's alone.
    found = otel_imports(SERVICE)
    assert set(found) == {"service/tracing.py", "service/bootstrap/traces.py"}
    assert all(name.startswith("opentelemetry.trace") for name in found["service/tracing.py"])
    wiring = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")
    assert any(name.startswith(wiring) for name in found["service/bootstrap/traces.py"])


def test_the_otel_check_sees_both_import_forms(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import opentelemetry.sdk\nfrom opentelemetry import trace\n")
    assert otel_imports(tmp_path) == {
        f"{tmp_path.name}/a.py": {"opentelemetry.sdk", "opentelemetry.trace"}
    }


def test_docs_name_every_import_linter_contract() -> None:
    # The README and docs once said "two contracts" beside three: name each, count none.
    root = SERVICE.parent
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]
    doc = " ".join((root / "docs" / "pipeline.md").read_text().split())
    missing = [c["name"] for c in contracts["contracts"] if f'"{c["name"]}"' not in doc]
    assert not missing, f"docs/pipeline.md does not name: {missing}"
