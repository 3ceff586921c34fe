#!/usr/bin/env bash
# Every benchmark scenario, one after the other, each with its baseline (docs/benchmarks.md):
# results under benchmarks/results/. Extra arguments go to each scenario, e.g. `--postgres`.
# About 40 minutes on the 2-core dev VM; `bench.py SCENARIO` runs one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
for scenario in overhead latency economy scaleout memory tracing; do
  .venv/bin/python benchmarks/bench.py "$scenario" "$@"
done
