#!/usr/bin/env bash
# Deletes reach the destination, end to end with the real binary and the local stand-in:
# read crm_lead (incremental, append_dedup), delete 3 and create 2 leads in the stand-in, read
# again with the reconciliation due. Every stdout line is checked against the official Airbyte
# models; the second read must hold exactly 3 tombstones and 2 records; a DuckDB table merged
# by id the way Append Deduped merges must end with exactly the stand-in's leads.
# Then the same under PyAirbyte (its DuckDB cache, `merge`), on a fresh stand-in.
# Needs: pip install airbyte-protocol-models-pdv2 duckdb; PyAirbyte in $PYAIRBYTE_PYTHON's
# environment (.ci/run makes one), skipped with a note when that variable is unset.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
oracle_setup connector-flowlu flowlu-emulator
bin=target/debug/flowlu-connector

stand_in deletes --records 300
export FLOWLU_BASE_URL=$STAND_IN_URL

echo '{"name": "deletes", "account_domain": "deletes", "api_key": "emulator-key", "advanced": {"deletes": 1, "page_size": 50}}' > "$work/config.json"
$bin discover --config "$work/config.json" > "$work/catalog.jsonl"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
catalog = json.loads(open(f"{work}/catalog.jsonl").read())["catalog"]
lead = next(s for s in catalog["streams"] if s["name"] == "crm_lead")
assert lead["json_schema"]["properties"]["_ab_cdc_deleted_at"]["format"] == "date-time", lead["json_schema"]["properties"].get("_ab_cdc_deleted_at")
configured = {"streams": [{"stream": lead, "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
                           "cursor_field": ["updated_date"], "primary_key": [["id"]]}]}
open(f"{work}/configured.json", "w").write(json.dumps(configured))
PY

$bin read --config "$work/config.json" --catalog "$work/configured.json" > "$work/read1.jsonl"
validate deletes-first-read --expect RECORD=300 STATE=1 < "$work/read1.jsonl"

python3 - "$FLOWLU_BASE_URL" > "$work/mutation.json" <<'PY'
import sys, urllib.request
body = b'{"module": "crm", "model": "lead", "seed": 5, "deletes": 3, "inserts": 2}'
request = urllib.request.Request(sys.argv[1] + "/_emulator/mutate", data=body, headers={"content-type": "application/json"})
print(urllib.request.urlopen(request).read().decode())
PY

# The last state, with its reconciliation a day old: one is due.
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
states = [json.loads(l)["state"] for l in open(f"{work}/read1.jsonl") if '"type":"STATE"' in l]
last = states[-1]
last["stream"]["stream_state"]["deletes"]["reconciled_at"] = 0
open(f"{work}/state.json", "w").write(json.dumps([last]))
PY
$bin read --config "$work/config.json" --catalog "$work/configured.json" --state "$work/state.json" > "$work/read2.jsonl"
validate deletes-second-read --expect RECORD=5 STATE=1 < "$work/read2.jsonl"

python3 tests/oracle/deletes_duckdb.py "$work" "$FLOWLU_BASE_URL"

if [ -z "${PYAIRBYTE_PYTHON:-}" ]; then
  echo "deletes under PyAirbyte: skipped (PYAIRBYTE_PYTHON unset)"
  exit 0
fi
stand_in pyairbyte --records 300
FLOWLU_BASE_URL=$STAND_IN_URL "$PYAIRBYTE_PYTHON" tests/oracle/deletes_pyairbyte.py "$PWD/$bin" "$work" > "$work/pyairbyte.out" 2>&1 \
  || { cat "$work/pyairbyte.out"; exit 1; }
tail -n1 "$work/pyairbyte.out"
