#!/usr/bin/env bash
# The main job, locally: local Kafka + simulator (or Z.ai with ZAI_API_KEY) + worker, one request.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/system-deps.sh
exec .venv/bin/zai-l10n demo "$@"
