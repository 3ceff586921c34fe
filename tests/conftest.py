from __future__ import annotations

import os

# Real infrastructure and the simulator come from these plugins (see their docstrings).
pytest_plugins = [
    "tests.fixtures.infra",
    "tests.fixtures.simulator",
    "tests.fixtures.databases",
]

# A developer's real Z.ai key must never be used by the test suite.
for _name in [n for n in os.environ if n.startswith("ZAI_")]:
    del os.environ[_name]
