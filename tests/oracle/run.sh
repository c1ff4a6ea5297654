#!/usr/bin/env bash
# Runs the real binary against the local stand-in and validates every stdout line with the
# official Airbyte protocol models. Needs: pip install airbyte-protocol-models-pdv2
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --locked -p connector-flowlu -p connector-jsonl -p flowlu-emulator
bin=target/debug/flowlu-connector
work=$(mktemp -d)
capped_pid=
trap 'kill $emu_pid $capped_pid 2>/dev/null || true; rm -rf "$work"' EXIT

target/debug/flowlu-emulator --listen 127.0.0.1:0 --seed 42 --records 300 > "$work/emu.out" &
emu_pid=$!
for _ in $(seq 1 100); do [ -s "$work/emu.out" ] && break; sleep 0.1; done
export FLOWLU_BASE_URL=$(head -n1 "$work/emu.out")
validate() { python3 tests/oracle/validate_protocol.py "$@"; }

echo '{"name": "oracle", "account_domain": "oracle", "api_key": "emulator-key"}' > "$work/config.json"
echo '{"name": "oracle", "account_domain": "oracle", "api_key": "wrong-key"}' > "$work/bad.json"

$bin spec | validate spec --expect SPEC=1
$bin check --config "$work/config.json" | validate check --expect CONNECTION_STATUS=1
$bin check --config "$work/bad.json" | validate check-bad-key --expect CONNECTION_STATUS=1
$bin discover --config "$work/config.json" > "$work/catalog.jsonl"
validate discover --expect CATALOG=1 < "$work/catalog.jsonl"

# Configure every stream (incremental where supported) as a ConfiguredAirbyteCatalog.
python3 - "$work" <<'PY'
import json, sys
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog
work = sys.argv[1]
catalog = AirbyteMessage.model_validate_json(open(f"{work}/catalog.jsonl").read().strip()).catalog
streams = []
for s in catalog.streams:
    mode = "incremental" if "incremental" in [m.value for m in s.supported_sync_modes] else "full_refresh"
    streams.append({"stream": json.loads(s.model_dump_json(exclude_none=True)), "sync_mode": mode, "destination_sync_mode": "append"})
configured = ConfiguredAirbyteCatalog.model_validate({"streams": streams})
open(f"{work}/configured.json", "w").write(configured.model_dump_json(exclude_none=True))
leads = {"streams": [s for s in streams if s["stream"]["name"] == "crm_lead"]}
open(f"{work}/write_catalog.json", "w").write(json.dumps(leads))
PY

$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/read.jsonl"
validate read --expect RECORD=1000 STATE=49 TRACE_STREAM_STATUS=98 < "$work/read.jsonl"
grep '"type":"STATE"' "$work/read.jsonl" | python3 -c 'import sys, json; print(json.dumps([json.loads(l)["state"] for l in sys.stdin]))' > "$work/state.json"
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" | validate read-from-state --expect STATE=49

for n in 1 2 3; do
  echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"crm_lead\",\"data\":{\"name\":\"Oracle lead $n\"},\"emitted_at\":1}}"
done > "$work/messages.jsonl"
echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"crm_lead"},"stream_state":{"n":3}}}}' >> "$work/messages.jsonl"
$bin write --config "$work/config.json" --catalog "$work/write_catalog.json" < "$work/messages.jsonl" | validate write --expect STATE=1

# An account capped at 20 requests/s refusing with {"error":"Request rate per second exceeded"}
# and HTTP 200: the waits are STREAM_STATUS lines with a RATE_LIMITED reason.
target/debug/flowlu-emulator --listen 127.0.0.1:0 --seed 42 --records 300 --rate-cap 20 --refusal json > "$work/capped.out" &
capped_pid=$!
for _ in $(seq 1 100); do [ -s "$work/capped.out" ] && break; sleep 0.1; done
FLOWLU_BASE_URL=$(head -n1 "$work/capped.out") $bin read --config "$work/config.json" --catalog "$work/write_catalog.json" > "$work/capped.jsonl"
validate read-capped --expect RECORD=300 TRACE_STREAM_STATUS=3 < "$work/capped.jsonl"
grep -q '"type":"RATE_LIMITED"' "$work/capped.jsonl"

# The second connector, connector-jsonl (built only on connector-core and the runner), over
# the same oracle: a directory of .jsonl files, read, appended to, read again from its state.
jsonl=target/debug/jsonl-connector
mkdir -p "$work/files"
for n in 1 2 3; do echo "{\"id\":$n,\"name\":\"user $n\"}"; done > "$work/files/users.jsonl"
echo "{\"name\": \"oracle\", \"directory\": \"$work/files\"}" > "$work/jsonl.json"
$jsonl spec | validate jsonl-spec --expect SPEC=1
$jsonl check --config "$work/jsonl.json" | validate jsonl-check --expect CONNECTION_STATUS=1
$jsonl discover --config "$work/jsonl.json" > "$work/jsonl-catalog.jsonl"
validate jsonl-discover --expect CATALOG=1 < "$work/jsonl-catalog.jsonl"
python3 - "$work" <<'PY'
import json, sys
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog
work = sys.argv[1]
catalog = AirbyteMessage.model_validate_json(open(f"{work}/jsonl-catalog.jsonl").read().strip()).catalog
streams = [{"stream": json.loads(s.model_dump_json(exclude_none=True)), "sync_mode": "incremental", "destination_sync_mode": "append"} for s in catalog.streams]
open(f"{work}/jsonl-configured.json", "w").write(ConfiguredAirbyteCatalog.model_validate({"streams": streams}).model_dump_json(exclude_none=True))
PY
$jsonl read --config "$work/jsonl.json" --catalog "$work/jsonl-configured.json" > "$work/jsonl-read.jsonl"
validate jsonl-read --expect RECORD=3 STATE=1 TRACE_STREAM_STATUS=2 < "$work/jsonl-read.jsonl"
grep '"type":"STATE"' "$work/jsonl-read.jsonl" | python3 -c 'import sys, json; print(json.dumps([json.loads(l)["state"] for l in sys.stdin]))' > "$work/jsonl-state.json"
{
  for n in 4 5; do echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{\"id\":$n},\"emitted_at\":1}}"; done
  echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"n":5}}}}'
} | $jsonl write --config "$work/jsonl.json" --catalog "$work/jsonl-configured.json" | validate jsonl-write --expect STATE=1
$jsonl read --config "$work/jsonl.json" --catalog "$work/jsonl-configured.json" --state "$work/jsonl-state.json" > "$work/jsonl-resumed.jsonl"
validate jsonl-read-from-state --expect RECORD=2 STATE=1 < "$work/jsonl-resumed.jsonl"
[ "$(grep -c '"type":"RECORD"' "$work/jsonl-resumed.jsonl")" = 2 ]
echo "protocol oracle: every line valid"
