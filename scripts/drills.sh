#!/usr/bin/env bash
# The long reliability drills (docs/reliability.md): the same tests as the short versions in CI,
# at full size. Extra arguments go to pytest, e.g. `bash scripts/drills.sh -k crash`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/system-deps.sh
DRILL_SCALE=long .venv/bin/pytest tests/drills -s -p no:cacheprovider --timeout=7200 "$@"
