#!/usr/bin/env bash
# Airbyte's declarative Flowlu source (a local equivalent: manifest.yaml, run by airbyte-cdk)
# against our flowlu-connector, on the same local stand-in, back to back.
# See BENCHMARKS.md, "Compared with Airbyte's Flowlu source". Not part of CI.
#
#   bench/baseline/run.sh                        # 3 runs per figure, medians
#   REPS=2 SCENARIOS=10000:0 bench/baseline/run.sh
#
# Needs python3 (3.10-3.12) with venv, and PyPI for the first run. Loopback only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
CDK_VERSION="${CDK_VERSION:-6.48.10}"   # the source-declarative-manifest version their image pins
VENV="${VENV:-${TMPDIR:-/tmp}/flowlu-airbyte-baseline-venv-$CDK_VERSION}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import airbyte_cdk" 2>/dev/null; then
  python3 -m venv "$VENV"
  timeout 900 "$VENV/bin/pip" install -q "airbyte-cdk==$CDK_VERSION"
fi

cd "$root"
timeout 1800 cargo build --release -p connector-flowlu --bin flowlu-connector \
  -p flowlu-emulator --bin flowlu-emulator
target="${CARGO_TARGET_DIR:-$root/target}/release"

echo "python: $("$VENV/bin/python" --version); airbyte-cdk: $("$VENV/bin/pip" show airbyte-cdk | sed -n 's/^Version: //p')"
echo "flowlu-connector: $(git -C "$root" rev-parse --short HEAD); $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec timeout 3600 "$VENV/bin/python" "$here/compare.py" \
  --connector "$target/flowlu-connector" --emulator "$target/flowlu-emulator" \
  --reps "${REPS:-3}" --scenarios "${SCENARIOS:-10000:0,100000:0,10000:100}" "$@"
