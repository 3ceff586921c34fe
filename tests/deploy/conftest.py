"""Fixtures of the deployment tests (defined in support.py, which the tests also import)."""

from __future__ import annotations

from tests.deploy.support import helm, render

__all__ = ["helm", "render"]
