#!/usr/bin/env bash
# Runs the real binary against the local stand-in and validates every stdout line with the
# official Airbyte protocol models. Needs: pip install airbyte-protocol-models-pdv2
set -euo pipefail
source "$(dirname "$0")/lib.sh"
oracle_setup connector-flowlu flowlu-emulator
bin=target/debug/flowlu-connector

stand_in emu --records 300
export FLOWLU_BASE_URL=$STAND_IN_URL

echo '{"name": "oracle", "account_domain": "oracle", "api_key": "emulator-key"}' > "$work/config.json"
echo '{"name": "oracle", "account_domain": "oracle", "api_key": "wrong-key"}' > "$work/bad.json"

$bin spec | validate spec --expect SPEC=1
$bin check --config "$work/config.json" | validate check --expect CONNECTION_STATUS=1
$bin check --config "$work/bad.json" | validate check-bad-key --expect CONNECTION_STATUS=1
$bin discover --config "$work/config.json" > "$work/catalog.jsonl"
validate discover --expect CATALOG=1 < "$work/catalog.jsonl"

# Configure every stream (incremental where supported) as a ConfiguredAirbyteCatalog; the
# write's catalog is its crm_lead stream.
configure_catalog supported
jq -c '{streams: [.streams[] | select(.stream.name == "crm_lead")]}' "$work/configured.json" > "$work/write_catalog.json"

$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/read.jsonl"
validate read --expect RECORD=1000 STATE=49 TRACE_STREAM_STATUS=98 < "$work/read.jsonl"
states_of "$work/read.jsonl" > "$work/state.json"
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" | validate read-from-state --expect STATE=49

write_messages crm_lead name "Oracle lead " > "$work/messages.jsonl"
$bin write --config "$work/config.json" --catalog "$work/write_catalog.json" < "$work/messages.jsonl" | validate write --expect STATE=1

# An account capped at 20 requests/s refusing with {"error":"Request rate per second exceeded"}
# and HTTP 200: the waits are STREAM_STATUS lines with a RATE_LIMITED reason.
stand_in capped --records 300 --rate-cap 20 --refusal json
FLOWLU_BASE_URL=$STAND_IN_URL $bin read --config "$work/config.json" --catalog "$work/write_catalog.json" > "$work/capped.jsonl"
validate read-capped --expect RECORD=300 TRACE_STREAM_STATUS=3 < "$work/capped.jsonl"
grep -q '"type":"RATE_LIMITED"' "$work/capped.jsonl"
echo "protocol oracle: every line valid"
