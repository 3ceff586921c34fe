"""deploy/docker/Dockerfile cannot be built here: check what it references instead."""

from __future__ import annotations

import ast
import re
import shlex

import pytest
import setuptools

from tests.deploy.support import PYPROJECT, ROOT, cli_commands

pytestmark = pytest.mark.deploy

DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def glob_regex(pattern: str) -> str:
    """Go's filepath.Match plus `**` (any number of directories), as Docker reads .dockerignore."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def ignored(path: str) -> bool:
    """.dockerignore semantics: the last matching pattern wins; a pattern also covers subpaths."""
    verdict = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = glob_regex(pattern)
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, p) for p in prefixes):
            verdict = not negate
    return verdict


def test_multi_stage_slim_python_311() -> None:
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    froms = [a for k, a in instructions() if k == "FROM"]
    assert len(froms) >= 2
    for a in froms:
        image = a.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", image), image


def test_copies_only_files_that_exist_and_reach_the_build_context() -> None:
    copied = []
    for kind, rest in instructions():
        if kind not in ("COPY", "ADD"):
            continue
        assert kind == "COPY", "ADD fetches URLs and unpacks archives: use COPY"
        words = shlex.split(rest)
        if any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words if not w.startswith("--")][:-1]
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
            assert not ignored(src), f"COPY {src}: excluded by .dockerignore"
            copied.append(src)
    assert {"pyproject.toml", "constraints.txt", "service"} <= set(copied)
    # The package's own files reach the context, caches and local state do not.
    assert not ignored("service/store/migrations/versions/0001_initial.py")
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        "service/__pycache__/x.pyc",
        ".env",
        "zai-l10n.db",
    ):
        assert ignored(path), path


def test_final_stage_is_non_root_without_build_tools() -> None:
    final = stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users, "the final stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: runAsNonRoot can verify it
    run = " ".join(a for k, a in final if k == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "make ", "pip install"):
        assert tool not in run, tool
    assert "pip uninstall" in run  # the base image's pip goes too
    chart_uid = 10001  # deploy/helm/zai-l10n values: podSecurityContext.runAsUser
    assert int(uid) == chart_uid


def test_entry_points_are_the_packages_console_scripts() -> None:
    final = stages()[-1]
    (cmd,) = [a for k, a in final if k == "CMD"]
    argv = __import__("json").loads(cmd)
    assert argv[0] in PYPROJECT["project"]["scripts"]
    assert PYPROJECT["project"]["scripts"][argv[0]] == "service.cli:app"
    assert argv[1] in cli_commands()
    assert not [a for k, a in final if k == "ENTRYPOINT" and a not in ("[]",)]
    # The roles the image serves (compose and the chart pass these commands).
    assert {"worker", "api", "sim", "migrate"} <= cli_commands()


def test_installs_the_package_with_the_pinned_constraints() -> None:
    build = " ".join(a for k, a in stages()[0] if k == "RUN")
    assert "-c constraints.txt" in build
    assert "-e " not in build  # a real install, not an editable one


# Dev tooling: a Kafka broker from Maven jars, a private PostgreSQL, and the demo built on them.
DEV_TOOLING = "devstack"


def test_dev_tooling_is_outside_the_package_the_wheel_and_the_image() -> None:
    assert (ROOT / DEV_TOOLING / "kafka.py").exists(), "devstack/ moved: update this test"
    assert (
        not (ROOT / "service" / "devstack").exists() and not (ROOT / "service" / "demo.py").exists()
    )
    # What a wheel built from this checkout carries: setuptools' own discovery, configured as
    # pyproject.toml configures it.
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    packages = setuptools.find_packages(str(ROOT), include=found["include"])
    assert "service" in packages and "service.api.console" in packages
    assert not [p for p in packages if not p.startswith("service")], packages
    # The image builds from the service/ folder alone: devstack/ never reaches its context.
    assert ignored(f"{DEV_TOOLING}/kafka.py") and ignored(f"{DEV_TOOLING}/demo.py")
    copied = [
        w for k, a in instructions() if k == "COPY" for w in shlex.split(a) if "devstack" in w
    ]
    assert not copied, copied


def test_final_stage_gets_the_package_only_through_the_build_stages_virtualenv() -> None:
    final = stages()[-1]
    for kind, rest in final:
        if kind != "COPY":
            continue
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        if "--from=build" in rest:
            assert words[:-1] == ["/opt/venv"], rest
        else:
            assert not any(w.startswith("service") for w in words[:-1]), rest


def test_the_package_imports_dev_tooling_only_inside_functions() -> None:
    """What lets the image do without it: `zai-l10n demo` imports devstack.demo when it runs
    (and import-linter allows that one import only)."""
    dev_modules = (DEV_TOOLING,)
    offenders = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), filename=rel)
        imports = {n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)}
        in_functions = {
            n
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(f)
            if isinstance(n, ast.Import | ast.ImportFrom)
        }
        # Module and class bodies run at import time; function bodies only when called.
        top_level = sorted(imports - in_functions, key=lambda n: n.lineno)
        for node in top_level:
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                names = [a.name for a in node.names]
            if any(n == m or n.startswith(m + ".") for n in names for m in dev_modules):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders


def test_console_templates_and_static_files_ship_in_the_package() -> None:
    """The console's files are package data: in the wheel the image installs, never left behind."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["service.api.console"]
    base = ROOT / "service" / "api" / "console"
    shipped = {p for pattern in patterns for p in base.glob(pattern)}
    files = {p for d in ("templates", "static") for p in (base / d).rglob("*") if p.is_file()}
    assert {"base.html", "console.css", "htmx-2.0.11.min.js"} <= {p.name for p in files}
    assert files <= shipped, sorted(str(p) for p in files - shipped)
    assert not [p for p in files if ignored(str(p.relative_to(ROOT)))]
