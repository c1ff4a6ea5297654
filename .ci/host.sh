#!/usr/bin/env bash
# CI: the reference host (reference-host/) in headless Chromium (Debian's chromium): a bad
# domain's message at the domain field, a bad key's at the key field, a good credential as a
# tile, the masked key on edit, an edited domain demanding the key again, rotation, use for a
# source with its webhook panel (URL and token, steps, Copy, New URL, a change made in the
# embedded stand-in listed within 2 s), delete; the canary key never in the page, a response
# body, the server's log or the database file; a webhook token never in the server's log. Screenshots and the server's log: target/host-screenshots/.
# Installs what it needs (apt chromium; npm ci from the committed lock file); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  echo "== installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== cargo build -p reference-host"
cargo build --locked --quiet -p reference-host
cd reference-host/web
echo "== npm ci (reference-host/web/package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
REFERENCE_HOST_BIN="$PWD/../../target/debug/reference-host" node test.mjs ||
  { echo "FAILED: the reference host in the browser (reference-host/web/test.mjs), see above and target/host-screenshots/"; exit 1; }
