#!/usr/bin/env bash
# CI: the generated credential form rendered by react-jsonschema-form and JSON Forms in
# headless Chromium (Debian's chromium), filled badly and well; asserts the order, the masked
# key, the readable error, the help. Screenshots: target/ci-artifacts/forms/.
# Installs what it needs (apt chromium; npm ci from the committed lock file); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  echo "== installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cd tests/forms
echo "== npm ci (tests/forms/package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
node ../../reference-host/web/build.mjs
node test.mjs || { echo "FAILED: form rendering (tests/forms/test.mjs), see above and target/ci-artifacts/forms/"; exit 1; }
