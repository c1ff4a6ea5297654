#!/usr/bin/env bash
# CI: builds the Airbyte image FROM scratch with podman (packaging/source-flowlu/build-image.sh)
# from the release binary, runs spec, check (good and bad key), discover and an incremental read
# (then a read from its state) through the image against the stand-in, and saves the image as an
# OCI archive: target/source-flowlu-image.oci.tar. Installs podman, runc and jq if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
apt_install podman runc jq
release_build
start_emulator --records 100
packaging/source-flowlu/build-image.sh "$BIN" target/source-flowlu-image.oci.tar
version=$(sed -n 's/^ *dockerImageTag: *//p' packaging/source-flowlu/metadata.yaml)
image=airbyte/source-flowlu:$version
podman=(podman --runtime runc --cgroup-manager cgroupfs)
[ "$("${podman[@]}" image inspect "$image" --format '{{index .Config.Labels "io.airbyte.name"}} {{index .Config.Labels "io.airbyte.version"}}')" = "airbyte/source-flowlu $version" ] || fail "image labels"
"${podman[@]}" image inspect "$image" --format '{{.Config.Env}}' | grep -q 'AIRBYTE_ENTRYPOINT=/airbyte/bin/flowlu-connector' || fail "AIRBYTE_ENTRYPOINT"

work=$(mktemp -d)
echo '{"name": "image", "account_domain": "image", "api_key": "emulator-key"}' > "$work/config.json"
echo '{"name": "image", "account_domain": "image", "api_key": "wrong-key"}' > "$work/bad.json"
run() {
  "${podman[@]}" run --rm -i --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    -e FLOWLU_BASE_URL -v "$work:/data:Z" "$image" "$@"
}
run spec | jq -e 'select(.type == "SPEC") | .spec.connectionSpecification.properties.api_key.airbyte_secret' >/dev/null || fail "spec through the image"
run check --config /data/config.json | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "SUCCEEDED"' >/dev/null || fail "check (good key) through the image"
run check --config /data/bad.json | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "FAILED"' >/dev/null || fail "check (bad key) through the image"
run discover --config /data/config.json > "$work/catalog.jsonl" || fail "discover through the image"
streams=$(jq -r 'select(.type == "CATALOG") | .catalog.streams | length' "$work/catalog.jsonl")
[ "${streams:-0}" -gt 0 ] || fail "discover printed no streams"
configure_catalog < "$work/catalog.jsonl" > "$work/configured.json"
run read --config /data/config.json --catalog /data/configured.json > "$work/read1.jsonl" || fail "read through the image"
records1=$(grep -c '"type":"RECORD"' "$work/read1.jsonl" || true)
[ "$records1" -gt 0 ] || fail "the first read returned no record"
jq -c 'select(.type == "STATE") | .state' "$work/read1.jsonl" | jq -s -c . > "$work/state.json"
[ "$(jq length "$work/state.json")" -gt 0 ] || fail "the first read emitted no STATE"
run read --config /data/config.json --catalog /data/configured.json --state /data/state.json > "$work/read2.jsonl" || fail "read from state through the image"
records2=$(grep -c '"type":"RECORD"' "$work/read2.jsonl" || true)
[ "$records2" -lt "$records1" ] || fail "the read from state repeated everything ($records2 of $records1 records)"
grep -q '"type":"STATE"' "$work/read2.jsonl" || fail "the read from state emitted no STATE"
rm -rf "$work"
echo "image: spec, check (2), discover ($streams streams), read ($records1 records), read from state ($records2 records): ok"
echo "image: 6 passed, 0 failed"
