#!/usr/bin/env bash
# The protocol oracle over the second connector: runs the jsonl-connector binary on a directory
# of .jsonl files and validates every stdout line with the official Airbyte protocol models
# (spec, check, discover, read, read from state, write, bad lines, a refused catalog).
# Needs: pip install airbyte-protocol-models-pdv2
set -euo pipefail
source "$(dirname "$0")/lib.sh"
oracle_setup connector-jsonl
bin=target/debug/jsonl-connector

mkdir "$work/files"
python3 - "$work/files" <<'PY'
import json, sys
d = sys.argv[1]
with open(f"{d}/orders.jsonl", "w") as f:
    for i in range(20000):
        f.write(json.dumps({"id": i, "name": f"order {i}", "total": i * 1.5}) + "\n")
with open(f"{d}/customers.jsonl", "w") as f:
    f.write('{"id": 1, "name": "Ada"}\n{"id": 2, "name": "Grace"}\n{"id": 3, "na')
PY
echo "{\"name\": \"oracle\", \"directory\": \"$work/files\"}" > "$work/config.json"
echo "{\"name\": \"oracle\", \"directory\": \"$work/missing\"}" > "$work/bad.json"

$bin spec | validate spec --expect SPEC=1
$bin check --config "$work/config.json" | validate check --expect CONNECTION_STATUS=1
$bin check --config "$work/bad.json" | validate check-missing-directory --expect CONNECTION_STATUS=1
$bin discover --config "$work/config.json" > "$work/catalog.jsonl"
validate discover --expect CATALOG=1 < "$work/catalog.jsonl"

# Configure every stream incrementally as a ConfiguredAirbyteCatalog.
configure_catalog incremental customers orders

$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/read.jsonl"
validate read --expect RECORD=20002 STATE=4 LOG=1 TRACE_STREAM_STATUS=4 < "$work/read.jsonl"
states_of "$work/read.jsonl" > "$work/state.json"
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" > "$work/again.jsonl"
validate read-from-state --expect STATE=2 TRACE_STREAM_STATUS=4 < "$work/again.jsonl"
if grep -q '"type":"RECORD"' "$work/again.jsonl"; then echo "read-from-state: records repeated" >&2; exit 1; fi

# Write: records and states in, STATEs echoed once synced; then the records read back.
write_messages orders id new- > "$work/messages.jsonl"
$bin write --config "$work/config.json" --catalog "$work/configured.json" < "$work/messages.jsonl" | validate write --expect STATE=1 LOG=2
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" > "$work/written.jsonl"
validate read-written --expect RECORD=3 STATE=2 < "$work/written.jsonl"

# A bad line: a LOG ERROR naming it, a TRACE error for its stream, exit code 1.
echo 'not json' >> "$work/files/orders.jsonl"
expect_exit 1 "bad line" $bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/bad.jsonl"
validate read-bad-line --expect RECORD=20005 LOG=2 TRACE_ERROR=1 < "$work/bad.jsonl"

# A catalog asking for overwrite is refused before anything is read: one TRACE error, exit 1.
sed 's/"destination_sync_mode":"append"/"destination_sync_mode":"overwrite"/g' "$work/configured.json" > "$work/overwrite.json"
expect_exit 1 overwrite $bin write --config "$work/config.json" --catalog "$work/overwrite.json" < "$work/messages.jsonl" > "$work/refused.jsonl"
validate write-refused --expect TRACE_ERROR=1 < "$work/refused.jsonl"
echo "protocol oracle (jsonl-connector): every line valid"
