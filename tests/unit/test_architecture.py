"""Structural rules for the code under service/, checked statically with `ast`."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"
# Alembic revisions are generated, append-only history: their length is not ours to shape.
EXCLUDED = ("store/migrations",)
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250
MAX_FILE_LINES = 400


def _sources(root: Path) -> list[tuple[Path, str]]:
    """(path, path relative to root's parent) of every module, migrations excluded."""
    found = []
    for path in sorted(root.rglob("*.py")):
        inside = path.relative_to(root).as_posix()
        if any(inside.startswith(excluded + "/") for excluded in EXCLUDED):
            continue
        found.append((path, path.relative_to(root.parent).as_posix()))
    return found


def long_functions(root: Path = SERVICE, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`path:line name (N lines)` for every def (nested and methods too) spanning over `limit`."""
    return _long(root, limit, ast.FunctionDef | ast.AsyncFunctionDef)


def long_classes(root: Path = SERVICE, limit: int = MAX_CLASS_LINES) -> list[str]:
    """`path:line name (N lines)` for every class (nested too) spanning over `limit`."""
    return _long(root, limit, ast.ClassDef)


def _long(root: Path, limit: int, kinds: type | tuple[type, ...]) -> list[str]:
    found: list[tuple[str, int, str]] = []
    for path, rel in _sources(root):
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not isinstance(node, kinds):
                continue
            # From the `def`/`class` line (decorators not counted) to the body's last line.
            assert isinstance(node, ast.stmt) and node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append((rel, node.lineno, f"{getattr(node, 'name', '?')} ({lines} lines)"))
    return [f"{rel}:{line} {what}" for rel, line, what in sorted(found)]


def long_files(root: Path = SERVICE, limit: int = MAX_FILE_LINES) -> list[str]:
    """`path (N lines)` for every module over `limit` lines."""
    lengths = [(rel, len(path.read_text().splitlines())) for path, rel in _sources(root)]
    return [f"{rel} ({n} lines)" for rel, n in lengths if n > limit]


def test_no_function_in_service_is_longer_than_60_lines() -> None:
    # No exemptions: a long function is split, not listed here.
    offenders = long_functions()
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)


def test_no_function_in_the_dev_tooling_is_longer_than_60_lines() -> None:
    # devstack/ left the package (it is in no wheel), not the project's rules.
    offenders = long_functions(SERVICE.parent / "devstack")
    assert not offenders, "functions over 60 lines:\n" + "\n".join(offenders)


def test_no_class_in_service_is_longer_than_250_lines() -> None:
    # A class that does too much is split by responsibility, not listed here.
    offenders = long_classes()
    assert not offenders, "classes over 250 lines:\n" + "\n".join(offenders)


def test_no_module_in_service_is_longer_than_400_lines() -> None:
    offenders = long_files()
    assert not offenders, "modules over 400 lines:\n" + "\n".join(offenders)


def test_the_size_checks_see_classes_and_modules_and_skip_migrations(tmp_path: Path) -> None:
    root = tmp_path / "service"
    (root / "store" / "migrations" / "versions").mkdir(parents=True)
    (root / "store" / "migrations" / "versions" / "0001.py").write_text("x = 1\n" * 500)
    (root / "ok.py").write_text("class Fits:\n" + "    x = 1\n" * 249 + "y = 2\n" * 150)
    (root / "big.py").write_text("class Outer:\n    class Inner:\n" + "        x = 1\n" * 400)
    assert long_classes(root) == [
        "service/big.py:1 Outer (402 lines)",
        "service/big.py:2 Inner (401 lines)",
    ]
    assert long_files(root) == ["service/big.py (402 lines)"]


def session_calls(root: Path) -> list[str]:
    """Calls of a database session's or connection's methods (`session.get(...)`,
    `conn.execute(...)`) on the names the API gives them."""
    holders, methods = {"session", "conn", "connection"}, _SESSION_METHODS
    found = []
    for path, rel in _sources(root):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            if isinstance(target, ast.Name) and target.id in holders:
                if node.func.attr in methods:
                    found.append(f"{rel}:{node.lineno} {target.id}.{node.func.attr}")
    return found


_SESSION_METHODS = frozenset(
    "exec execute scalar scalars get add add_all delete commit rollback flush refresh merge "
    "connection begin stream".split()
)


def test_the_admin_api_runs_no_statement_of_its_own() -> None:
    # Routes and console pages hand the request's session to the store's functions
    # (service/store/); the import-linter contract keeps database libraries out of service/api.
    offenders = session_calls(SERVICE / "api")
    assert not offenders, "session calls in service/api:\n" + "\n".join(offenders)


def test_the_session_check_finds_session_calls(tmp_path: Path) -> None:
    root = tmp_path / "api"
    root.mkdir()
    (root / "r.py").write_text(
        "async def f(session, conn, form):\n"
        "    await session.get(A, 1)\n"
        "    await conn.commit()\n"
        "    form.get('x')\n"  # a form's get is not a session's
    )
    assert session_calls(root) == ["api/r.py:2 session.get", "api/r.py:3 conn.commit"]


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
