#!/usr/bin/env bash
# CI: builds the Python wheel that carries the binary (maturin, `bin` bindings, from the same
# release build), installs the wheel file into a fresh virtualenv and runs the installed
# `source-flowlu` executable's spec and check (good and bad key) against the stand-in.
# Wheel: target/wheels/source_flowlu-*.whl.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
apt_install jq
release_build
venv=target/ci-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin==1.16.0
profile=${CI_PROFILE:-release}
rm -f target/wheels/source_flowlu-*.whl
(cd packaging/source-flowlu && "../../$venv/bin/maturin" build --quiet --locked --profile "$profile" \
  --compatibility linux --out ../../target/wheels) || fail "maturin build"
wheel=$(ls target/wheels/source_flowlu-*.whl)
start_emulator --records 10
users=$(mktemp -d)
python3 -m venv "$users/venv"
"$users/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel" || fail "pip install $wheel"
exe=$users/venv/bin/source-flowlu
[ -x "$exe" ] || fail "the wheel installed no source-flowlu executable"
echo '{"name": "wheel", "account_domain": "wheel", "api_key": "emulator-key"}' > "$users/config.json"
echo '{"name": "wheel", "account_domain": "wheel", "api_key": "wrong-key"}' > "$users/bad.json"
"$exe" spec | jq -e 'select(.type == "SPEC") | .spec.connectionSpecification.title == "Flowlu"' >/dev/null || fail "spec of the installed executable"
"$exe" check --config "$users/config.json" | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "SUCCEEDED"' >/dev/null || fail "check (good key) of the installed executable"
"$exe" check --config "$users/bad.json" | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "FAILED"' >/dev/null || fail "check (bad key) of the installed executable"
rm -rf "$users"
echo "wheel: $(basename "$wheel") ($(du -h "$wheel" | cut -f1)): spec, check (2) of the installed source-flowlu: ok"
echo "wheel: 3 passed, 0 failed"
