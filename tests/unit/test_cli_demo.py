"""`zai-l10n demo` finds the dev tooling (devstack/) beside the package in a source checkout,
and says where to run it when there is none (an installed wheel, the image)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from service import cli

ROOT = Path(__file__).resolve().parents[2]


def test_in_a_checkout_the_demo_is_loaded_from_beside_the_package(tmp_path: Path) -> None:
    # Another working directory, no PYTHONPATH: only the package's own location can lead there.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "from service.cli import _load_demo; print(_load_demo().__module__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "devstack.demo"


def test_without_a_checkout_the_demo_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "site-packages" / "service" / "cli.py"  # no devstack/ beside it
    monkeypatch.setattr(cli, "__file__", str(installed))
    root = str(ROOT)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if os.path.abspath(p or ".") != root])
    for name in [m for m in sys.modules if m == "devstack" or m.startswith("devstack.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(typer.Exit) as exited:
        cli._load_demo()
    assert exited.value.exit_code == 2
    err = capsys.readouterr().err
    assert "source checkout" in err and "scripts/demo.sh" in err
