from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.worker import WorkerProcess

# Real infrastructure and the simulator come from these plugins (see their docstrings).
pytest_plugins = [
    "tests.fixtures.infra",
    "tests.fixtures.simulator",
    "tests.fixtures.databases",
]

# A developer's real Z.ai key or endpoints must never be used by the test suite
# (ZAI_L10N_* are the devstack's own knobs, not Z.ai settings).
for _name in [n for n in os.environ if n.startswith("ZAI_") and not n.startswith("ZAI_L10N_")]:
    del os.environ[_name]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under xdist (scripts/test.sh: -n 2 --dist loadgroup) the drills run one after the other
    # on one worker: each loads the machine and some measure a pace; the other worker goes on
    # with the rest of the suite meanwhile. The browser tests share one worker too, so one
    # Chromium and one API process serve them all.
    if not config.pluginmanager.has_plugin("xdist"):
        return
    for item in items:
        for marker in ("drill", "browser"):
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.xdist_group(marker))


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test() -> Iterator[None]:
    # A test that fails before stopping its worker processes would leave them running (and
    # retrying against a stopped broker and database) for the rest of the session.
    yield
    WorkerProcess.kill_leftovers()
