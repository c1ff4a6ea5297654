#!/usr/bin/env bash
# CI: builds the Python wheel that carries the connector (maturin, `bin` bindings of
# packaging/source-flowlu's crate: one stripped binary, `source-flowlu`, from the release
# profile), checks it is under 10 MB with exactly that one executable, stripped, installs the
# wheel file into a fresh virtualenv, runs the installed `source-flowlu`'s spec and check (good
# and bad key) against the stand-in, and then PyAirbyte (PyPI `airbyte`, the README's snippet):
# check and a read of two streams into its local DuckDB cache, every record of the stand-in.
# Wheel: target/wheels/source_flowlu-*.whl.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
apt_install jq binutils
release_build
venv=target/ci-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin==1.16.0
profile=${CI_PROFILE:-release}
rm -f target/wheels/source_flowlu-*.whl
(cd packaging/source-flowlu && "../../$venv/bin/maturin" build --quiet --locked --profile "$profile" \
  --compatibility linux --out ../../target/wheels) || fail "maturin build"
wheel=$(ls target/wheels/source_flowlu-*.whl)
size=$(stat -c %s "$wheel")
[ "$size" -lt 10000000 ] || fail "the wheel is $size bytes (10 MB at most)"
scripts=$(python3 -c 'import sys, zipfile; print(" ".join(n.split("/")[-1] for n in zipfile.ZipFile(sys.argv[1]).namelist() if ".data/scripts/" in n))' "$wheel")
[ "$scripts" = "source-flowlu" ] || fail "the wheel's executables are '$scripts', not exactly source-flowlu"
start_emulator --records 10
users=$(mktemp -d)
python3 -m venv "$users/venv"
"$users/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel" || fail "pip install $wheel"
exe=$users/venv/bin/source-flowlu
[ -x "$exe" ] || fail "the wheel installed no source-flowlu executable"
if readelf -S "$exe" | grep -qE '\.symtab|\.debug_(info|line|str|abbrev)'; then fail "the installed source-flowlu is not stripped"; fi
installed=$(stat -c %s "$exe")
[ "$installed" -lt 15000000 ] || fail "the installed executable is $installed bytes"
echo '{"name": "wheel", "account_domain": "wheel", "api_key": "emulator-key"}' > "$users/config.json"
echo '{"name": "wheel", "account_domain": "wheel", "api_key": "wrong-key"}' > "$users/bad.json"
"$exe" spec | jq -e 'select(.type == "SPEC") | .spec.connectionSpecification.title == "Flowlu"' >/dev/null || fail "spec of the installed executable"
"$exe" check --config "$users/config.json" | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "SUCCEEDED"' >/dev/null || fail "check (good key) of the installed executable"
"$exe" check --config "$users/bad.json" | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "FAILED"' >/dev/null || fail "check (bad key) of the installed executable"

echo "== PyAirbyte (airbyte==0.71.3) runs the installed source-flowlu"
"$users/venv/bin/pip" install --quiet --disable-pip-version-check airbyte==0.71.3 || fail "pip install airbyte"
# Offline: no registry lookup, no telemetry; the stand-in behind the executable.
(cd "$users" && DO_NOT_TRACK=1 AIRBYTE_OFFLINE_MODE=true "$users/venv/bin/python" - "$exe" <<'PYEOF') > "$users/pyairbyte.txt" 2>&1 \
  || { tail -n 30 "$users/pyairbyte.txt"; fail "PyAirbyte with the wheel's source-flowlu"; }
import sys, tempfile
import airbyte as ab

source = ab.get_source(
    "source-flowlu",
    local_executable=sys.argv[1],
    config={"name": "CRM", "account_domain": "mycompany", "api_key": "emulator-key"},
)
source.check()
source.select_streams(["crm_account", "crm_lead"])
result = source.read(cache=ab.new_local_cache(cache_name="wheel", cache_dir=tempfile.mkdtemp()))
counts = {name: len(result[name].to_pandas()) for name in ["crm_account", "crm_lead"]}
assert counts == {"crm_account": 10, "crm_lead": 10}, counts
print(f"pyairbyte read {counts}")
PYEOF
grep -q "pyairbyte read {'crm_account': 10, 'crm_lead': 10}" "$users/pyairbyte.txt" || fail "PyAirbyte's read"
rm -rf "$users"
echo "wheel: $(basename "$wheel") ($size bytes; installs one stripped $installed-byte source-flowlu): spec, check (2), PyAirbyte check and read (20 records): ok"
echo "wheel: 5 passed, 0 failed"
