#!/usr/bin/env bash
# Java 17+ and Maven run the local Kafka broker; Chromium runs the console's browser tests
# (tests/browser: Playwright drives Debian's build, never a downloaded one). PostgreSQL's server is
# installed on demand by devstack/postgres.py. Installs what is missing from Debian's
# packages (needs root); a no-op when everything is there.
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
