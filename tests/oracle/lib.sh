# Shared by the protocol oracles (sourced by run.sh, jsonl.sh and deletes.sh): a debug build of the
# packages named, a work directory removed on exit, background processes stopped on exit,
# the validator, a stand-in, a configured catalog from discover's output, the states of a read
# and the messages a write is given.

# `oracle_setup PACKAGE...`: from the checkout's root, builds the packages (debug) and makes
# `$work`, removed on exit with every process `oracle_spawn` started.
oracle_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  local package packages=()
  for package in "$@"; do packages+=(-p "$package"); done
  cargo build --quiet --locked "${packages[@]}"
  work=$(mktemp -d)
  oracle_pids=()
  trap 'oracle_cleanup' EXIT
}

oracle_cleanup() {
  local pid
  for pid in "${oracle_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# Validates every stdin line with the official Airbyte models: `validate NAME --expect TYPE=N...`.
validate() { python3 tests/oracle/validate_protocol.py "$@"; }

# `stand_in NAME ARG...`: starts the debug stand-in on a loopback port with `--seed 42` and
# the ARGs (stopped on exit); sets `STAND_IN_URL` to its base URL.
stand_in() {
  local name=$1 out="$work/$1.out"
  shift
  target/debug/flowlu-emulator --listen 127.0.0.1:0 --seed 42 "$@" > "$out" &
  oracle_pids+=($!)
  for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
  STAND_IN_URL=$(head -n1 "$out")
  [ -n "$STAND_IN_URL" ] || { echo "$name: the stand-in printed no base URL" >&2; exit 1; }
}

# `configure_catalog MODE [STREAM...]`: `$work/catalog.jsonl` (discover's output) into
# `$work/configured.json`, a ConfiguredAirbyteCatalog of every stream, destination `append`.
# MODE `supported`: incremental where supported, else full refresh; `incremental`: every
# stream incremental. STREAMs given: discover's streams must be exactly these, in this order.
configure_catalog() {
  python3 - "$work" "$@" <<'PY'
import json, sys
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog
work, mode, expected = sys.argv[1], sys.argv[2], sys.argv[3:]
catalog = AirbyteMessage.model_validate_json(open(f"{work}/catalog.jsonl").read().strip()).catalog
if expected:
    assert [s.name for s in catalog.streams] == expected, catalog.streams
def sync_mode(s):
    if mode == "incremental":
        return "incremental"
    return "incremental" if "incremental" in [m.value for m in s.supported_sync_modes] else "full_refresh"
streams = [{"stream": json.loads(s.model_dump_json(exclude_none=True)), "sync_mode": sync_mode(s), "destination_sync_mode": "append"} for s in catalog.streams]
configured = ConfiguredAirbyteCatalog.model_validate({"streams": streams})
open(f"{work}/configured.json", "w").write(configured.model_dump_json(exclude_none=True))
PY
}

# `states_of FILE`: the STATE messages of a read's output, as a `--state` file's JSON array.
states_of() {
  grep '"type":"STATE"' "$1" | python3 -c 'import sys, json; print(json.dumps([json.loads(l)["state"] for l in sys.stdin]))'
}

# `write_messages STREAM FIELD PREFIX`: three RECORDs of STREAM, FIELD `PREFIX1`..`PREFIX3`,
# then one STATE of STREAM (`{"n":3}`).
write_messages() {
  local n
  for n in 1 2 3; do
    echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"$1\",\"data\":{\"$2\":\"$3$n\"},\"emitted_at\":1}}"
  done
  echo "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"$1\"},\"stream_state\":{\"n\":3}}}}"
}

# `expect_exit CODE NAME COMMAND...`: runs COMMAND, fails naming NAME unless it exits CODE.
expect_exit() {
  local want=$1 name=$2 code=0
  shift 2
  "$@" || code=$?
  [ "$code" = "$want" ] || { echo "$name: exit code $code, expected $want" >&2; exit 1; }
}
