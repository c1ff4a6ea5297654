#!/usr/bin/env bash
# CI: runs the README's "Try it without an account" block as written (the one ```sh block after
# that sentence), from the checkout's root, against the local stand-in, then checks what it left: a check that succeeded, two streams read in full, a
# state.json of their states, and a second read from it that repeats no record.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source .ci/lib.sh
apt_install jq
block=$(awk '/^Try it without an account/ {found=1} found && /^```sh$/ {inside=1; next} inside && /^```$/ {exit} inside {print}' README.md)
[ -n "$block" ] || fail "README: no command block after \"Try it without an account\""
# The block runs from the checkout's root (it builds and names target/debug/...); the files it
# writes there are moved to a scratch directory afterwards.
made=(emulator.url config.json catalog.jsonl configured.json read1.jsonl state.json read2.jsonl)
for f in "${made[@]}"; do [ ! -e "$f" ] || fail "$f exists in the checkout: the block would overwrite it"; done
work=$(mktemp -d)
status=0
bash -euo pipefail -c "$block" || status=$?
for f in "${made[@]}"; do [ ! -e "$f" ] || mv "$f" "$work/"; done
[ $status -eq 0 ] || fail "the README's block failed (exit $status, see above)"
first=$(grep -c '"type":"RECORD"' "$work/read1.jsonl" || true)
second=$(grep -c '"type":"RECORD"' "$work/read2.jsonl" || true)
[ "$first" -eq 100 ] || fail "the first read returned $first records, not 100 (50 per stream)"
[ "$(jq length "$work/state.json")" -ge 2 ] || fail "state.json holds $(jq -c . "$work/state.json")"
[ "$second" -lt "$first" ] || fail "the read from state.json repeated everything ($second records)"
rm -rf "$work"
echo "readme: the stand-in block ran as written: check, discover, read ($first records), state.json, read from it ($second records): ok"
