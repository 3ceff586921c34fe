#!/usr/bin/env bash
# The whole test suite on a fresh machine: dependencies, lint, types, then pytest against a real
# Kafka broker, a real PostgreSQL and the Z.ai simulator (started by the test fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/system-deps.sh

echo "== ruff (set-up took ${SECONDS}s)"
.venv/bin/ruff check service devstack tests benchmarks
.venv/bin/ruff format --check service devstack tests benchmarks
echo "== mypy (at ${SECONDS}s)"
.venv/bin/mypy
echo "== import-linter (at ${SECONDS}s)"
.venv/bin/lint-imports
echo "== pytest (at ${SECONDS}s)"
# Two processes (the machine has two cores; most tests wait on brokers, databases and worker
# processes rather than compute): one broker and one PostgreSQL cluster shared by both
# (tests/fixtures/infra.py), the drills one after another on one of them (tests/conftest.py).
# `-n 0` runs in one process. pytest exits 5 when it ran no test; with `set -e` that fails the
# run, as it should.
.venv/bin/pytest -n 2 --dist loadgroup "$@"
