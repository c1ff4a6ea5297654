#!/usr/bin/env bash
# The protocol oracle over the second connector: runs the jsonl-connector binary on a directory
# of .jsonl files and validates every stdout line with the official Airbyte protocol models
# (spec, check, discover, read, read from state, write, bad lines, a refused catalog).
# Needs: pip install airbyte-protocol-models-pdv2
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --locked -p connector-jsonl
bin=target/debug/jsonl-connector
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
validate() { python3 tests/oracle/validate_protocol.py "$@"; }

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
python3 - "$work" <<'PY'
import json, sys
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog
work = sys.argv[1]
catalog = AirbyteMessage.model_validate_json(open(f"{work}/catalog.jsonl").read().strip()).catalog
assert [s.name for s in catalog.streams] == ["customers", "orders"], catalog.streams
streams = [{"stream": json.loads(s.model_dump_json(exclude_none=True)), "sync_mode": "incremental", "destination_sync_mode": "append"} for s in catalog.streams]
configured = ConfiguredAirbyteCatalog.model_validate({"streams": streams})
open(f"{work}/configured.json", "w").write(configured.model_dump_json(exclude_none=True))
PY

$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/read.jsonl"
validate read --expect RECORD=20002 STATE=4 LOG=1 TRACE_STREAM_STATUS=4 < "$work/read.jsonl"
grep '"type":"STATE"' "$work/read.jsonl" | python3 -c 'import sys, json; print(json.dumps([json.loads(l)["state"] for l in sys.stdin]))' > "$work/state.json"
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" > "$work/again.jsonl"
validate read-from-state --expect STATE=2 TRACE_STREAM_STATUS=4 < "$work/again.jsonl"
if grep -q '"type":"RECORD"' "$work/again.jsonl"; then echo "read-from-state: records repeated" >&2; exit 1; fi

# Write: records and states in, STATEs echoed once synced; then the records read back.
for n in 1 2 3; do
  echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"orders\",\"data\":{\"id\":\"new-$n\"},\"emitted_at\":1}}"
done > "$work/messages.jsonl"
echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"orders"},"stream_state":{"n":3}}}}' >> "$work/messages.jsonl"
$bin write --config "$work/config.json" --catalog "$work/configured.json" < "$work/messages.jsonl" | validate write --expect STATE=1 LOG=2
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" > "$work/written.jsonl"
validate read-written --expect RECORD=3 STATE=2 < "$work/written.jsonl"

# A bad line: a LOG ERROR naming it, a TRACE error for its stream, exit code 1.
echo 'not json' >> "$work/files/orders.jsonl"
code=0
$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/bad.jsonl" || code=$?
[ "$code" = 1 ] || { echo "bad line: exit code $code, expected 1" >&2; exit 1; }
validate read-bad-line --expect RECORD=20005 LOG=2 TRACE_ERROR=1 < "$work/bad.jsonl"

# A catalog asking for overwrite is refused before anything is read: one TRACE error, exit 1.
sed 's/"destination_sync_mode":"append"/"destination_sync_mode":"overwrite"/g' "$work/configured.json" > "$work/overwrite.json"
code=0
$bin write --config "$work/config.json" --catalog "$work/overwrite.json" < "$work/messages.jsonl" > "$work/refused.jsonl" || code=$?
[ "$code" = 1 ] || { echo "overwrite: exit code $code, expected 1" >&2; exit 1; }
validate write-refused --expect TRACE_ERROR=1 < "$work/refused.jsonl"
echo "protocol oracle (jsonl-connector): every line valid"
