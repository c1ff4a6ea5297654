#!/usr/bin/env bash
# CI: the connector under PyAirbyte (pip package `airbyte`) into its DuckDB cache, read twice
# from the discovered catalog against the stand-in (.ci/pyairbyte.py says what is checked:
# dates typed, number custom fields numeric, custom field columns by name, no "Could not
# determine airbyte type" notice, the second read incremental).
set -euo pipefail
# No telemetry, no registry: PyAirbyte runs the local executable only.
export DO_NOT_TRACK=1 AIRBYTE_OFFLINE_MODE=1
cd "$(dirname "$0")/.."
source .ci/lib.sh
release_build
venv=target/ci-pyairbyte
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check airbyte==0.71.3
start_emulator --records 40
work=$(mktemp -d)
"$venv/bin/python" .ci/pyairbyte.py "$BIN" "$work" || fail "PyAirbyte check"
rm -rf "$work"
