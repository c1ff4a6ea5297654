#!/usr/bin/env bash
# CI: Airbyte's standard tests (airbyte-cdk's airbyte_cdk.test.standard_tests, from PyPI) at
# test_strictness_level: high, against the release binary with the stand-in behind it.
# packaging/source-flowlu/test_standard_tests.py says exactly what runs: the suite's in-process
# Source is a thin adapter that runs the binary for each command. The suite's image tests need
# a Docker engine and are deselected (-m "not image_tests"); .ci/image.sh runs the image.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
release_build
venv=target/ci-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check airbyte-cdk==7.39.1 pytest==9.2.0
start_emulator --records 100
cd packaging/source-flowlu
FLOWLU_CONNECTOR_BIN=$BIN "../../$venv/bin/pytest" -v -rs -p no:cacheprovider -m "not image_tests" \
  || fail "Airbyte standard tests (packaging/source-flowlu), see above"
