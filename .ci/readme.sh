#!/usr/bin/env bash
# CI: every command block of README.md (each ```sh and ```python block) gets one of four fates,
# decided in the table below by the block's first line; a block the table does not name fails
# the run, so a new README command needs a decision:
#   run      here, as written, from the checkout's root;
#   standin  here, as written, against the local stand-in (config.json for it, FLOWLU_BASE_URL),
#            but for the lines the table names (placeholders a reader fills in), with the reason;
#   by       another .ci script runs it (named, with the commands it must hold, checked here), so
#            its work is not done twice;
#   no       cannot run in CI, with the reason (a real Flowlu account).
# The stand-in walk-through ("Try it without an account") is then checked for what it left: a
# check that succeeded, two streams read in full, a state.json of their states, and a second
# read from it that repeats no record.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
apt_install jq

# The blocks, one file each: blocks/N.sh (or .py), in README order.
blocks=$(mktemp -d)
awk -v dir="$blocks" '
  /^```(sh|python)$/ && !inside { inside = 1; n++; lang = substr($0, 4); file = sprintf("%s/%02d.%s", dir, n, lang == "python" ? "py" : "sh"); next }
  /^```$/ && inside { inside = 0; close(file); next }
  inside { print > file }
' README.md
count=$(find "$blocks" -type f | wc -l)
[ "$count" -ge 10 ] || fail "README: only $count command blocks found"

# The files a block may write in the checkout's root: refused if present, moved away after.
made=(emulator.url config.json catalog.jsonl configured.json read1.jsonl state.json read2.jsonl)
for f in "${made[@]}"; do [ ! -e "$f" ] || fail "$f exists in the checkout: a README block would overwrite it"; done
work=$(mktemp -d)
tidy() { for f in "${made[@]}"; do [ ! -e "$f" ] || mv "$f" "$work/"; done; }

# Runs a block with bash -euo pipefail from the checkout's root.
run_block() {
  local file=$1 status=0
  bash -euo pipefail "$file" || status=$?
  [ $status -eq 0 ] || { tidy; fail "README block \"$(head -n1 "$file")\" failed (exit $status, see above)"; }
}

# Checks that another CI script runs a block: it must hold each of the given commands.
by_script() {
  local script=$1; shift
  [ -f "$script" ] || fail "$script (said to run a README block) does not exist"
  for cmd in "$@"; do
    grep -qF -- "$cmd" "$script" || fail "$script does not run \`$cmd\` (said to run the README block that holds it)"
  done
  echo "   run by $script"
}

ran=0 elsewhere=0 skipped=0
for file in "$blocks"/*; do
  first=$(head -n1 "$file")
  echo "== README block: $first"
  case "$first" in
    "cargo run -p connector-flowlu --example quickstart")
      run_block "$file"; ran=$((ran + 1)) ;;
    "cargo test --workspace")
      by_script .ci/run "cargo test --workspace"; elsewhere=$((elsewhere + 1)) ;;
    "cargo build --workspace --tests     # after"*)
      # The reference of every command: run against the stand-in, but for the lines with what
      # a reader fills in: `[--state state.json]` (optional), `messages.jsonl` (the host's
      # records), `...` (the options of the line above).
      grep -vE '\[--state|messages\.jsonl|\$B[ -].*\.\.\.' "$file" > "$file.standin"
      [ "$(wc -l < "$file.standin")" -eq "$(($(wc -l < "$file") - 4))" ] ||
        fail "README: the reference block's placeholder lines changed; update .ci/readme.sh"
      # The block's own build (nothing to compile after the tests), for the stand-in it needs.
      cargo build --workspace --tests
      EMULATOR=target/debug/flowlu-emulator
      start_emulator --records 20
      echo '{"name": "Demo", "account_domain": "demo", "api_key": "emulator-key"}' > config.json
      run_block "$file.standin"
      [ "$(jq -r 'select(.type == "CATALOG") | .catalog.streams | length' catalog.jsonl)" -ge 40 ] ||
        { tidy; fail "the reference block's discover listed too few streams"; }
      [ "$(jq '.streams | length' configured.json)" -eq "$(jq -r 'select(.type == "CATALOG") | .catalog.streams | length' catalog.jsonl)" ] ||
        { tidy; fail "the reference block's one-liner did not configure every stream"; }
      kill "$EMULATOR_PID" 2>/dev/null || true
      unset FLOWLU_BASE_URL
      tidy; ran=$((ran + 1)) ;;
    "cargo build --workspace --tests && B=target/debug/flowlu-connector")
      run_block "$file"; tidy; ran=$((ran + 1))
      first_read=$(grep -c '"type":"RECORD"' "$work/read1.jsonl" || true)
      second_read=$(grep -c '"type":"RECORD"' "$work/read2.jsonl" || true)
      [ "$first_read" -eq 100 ] || fail "the walk-through's first read returned $first_read records, not 100 (50 per stream)"
      [ "$(jq length "$work/state.json")" -ge 2 ] || fail "state.json holds $(jq -c . "$work/state.json")"
      [ "$second_read" -lt "$first_read" ] || fail "the read from state.json repeated everything ($second_read records)"
      echo "   check, discover, read ($first_read records), state.json, read from it ($second_read records)" ;;
    "flowlu-connector probe --config config.json --out probe-report.json")
      # It measures a real portal (its purpose), at one request every 2 s; the probe itself is
      # tested against the stand-in by `cargo test --workspace`.
      echo "   not run: needs a real Flowlu account"; skipped=$((skipped + 1)) ;;
    "sudo apt-get install -y podman runc"*)
      by_script .ci/image.sh "apt_install podman runc" "release_build" "packaging/source-flowlu/build-image.sh"
      elsewhere=$((elsewhere + 1)) ;;
    "pip install maturin=="*)
      # The same commands, in a virtualenv (maturin's --profile is the block's --release).
      by_script .ci/wheel.sh "$(grep -o 'maturin==[0-9.]*' "$file")" 'maturin" build' '--no-index "$wheel"' \
        '"$exe" spec' "$(grep -o 'airbyte==[0-9.]*' "$file")"
      elsewhere=$((elsewhere + 1)) ;;
    "import airbyte as ab")
      # The snippet reads a real account's key (ab.get_secret); .ci/wheel.sh runs it against
      # the stand-in with the installed `source-flowlu`.
      by_script .ci/wheel.sh "get_source" "local_executable" "select_streams"
      elsewhere=$((elsewhere + 1)) ;;
    "# Node.js 18 or later with npm"*)
      # npm ci from the lock file and the page's build (what `npm run build` runs), then the
      # server the `cargo run` line builds and starts, driven in Chromium.
      by_script .ci/host.sh "npm ci" "node build.mjs" "cargo build --locked --quiet -p reference-host"
      elsewhere=$((elsewhere + 1)) ;;
    "flowlu-connector listen --spool /var/lib/flowlu-webhooks --listen 127.0.0.1:8787")
      # The first line serves until a signal: run here in the background (the spool in a
      # temporary directory instead of /var/lib), sent one event at the printed URL's path (200)
      # and one at a wrong token (404), then stopped by SIGTERM; the second line as written.
      cargo build --quiet --locked -p connector-flowlu --bin flowlu-connector
      spool=$(mktemp -d)
      sed "s#/var/lib/flowlu-webhooks#$spool#g; s#^flowlu-connector #target/debug/flowlu-connector #" "$file" > "$file.here"
      [ "$(wc -l < "$file.here")" -eq 2 ] || fail "README: the listen block changed; update .ci/readme.sh"
      bash -c "$(sed -n 1p "$file.here")" > "$spool.log" 2>&1 &
      listen_pid=$!
      for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8787/ && break; sleep 0.1; done
      url=$(bash -c "$(sed -n 2p "$file.here")" | jq -r .webhook_url)
      case "$url" in https://hooks.example.com/flowlu/webhook/?*) ;; *) fail "listen --print-url printed \"$url\"" ;; esac
      path=${url#https://hooks.example.com}
      event='{"meta":{"module":"crm","model":"account","action":"create"},"current":{"id":1,"name":"CI","updated_date":"2026-12-06 00:00:00"},"previous":null}'
      status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$event" "http://127.0.0.1:8787$path")
      [ "$status" = 200 ] || { kill "$listen_pid"; cat "$spool.log"; fail "listen answered $status to an event at its URL"; }
      status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$event" "http://127.0.0.1:8787/flowlu/webhook/wrong")
      [ "$status" = 404 ] || { kill "$listen_pid"; fail "listen answered $status to a wrong token"; }
      kill -TERM "$listen_pid"; wait "$listen_pid" || true
      ! grep -qF "${path##*/}" "$spool.log" || fail "listen logged its token"
      rm -rf "$spool" "$spool.log"
      echo "   listen: 200 at its URL, 404 at a wrong token, stopped by SIGTERM; --print-url printed the URL"
      ran=$((ran + 1)) ;;
    "UPDATE_SCHEMAS=1 cargo test -p integration-tests schemas")
      run_block "$file"
      git diff --quiet -- schemas/ && [ -z "$(git status --porcelain -- schemas/)" ] ||
        fail "regenerating the schemas changed them: commit what the command wrote"
      ran=$((ran + 1)) ;;
    *)
      fail "README block \"$first\" is not in .ci/readme.sh's table: say whether CI runs it, which script does, or why not" ;;
  esac
done
rm -rf "$work" "$blocks"
echo "readme: $count command blocks: $ran run here, $elsewhere run by other CI scripts, $skipped not run (a real account): ok"
