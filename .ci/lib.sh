# Shared by the .ci/ scripts (sourced): the one release build and the local stand-in.

# Installs Debian packages that are missing (apt-get update once per run).
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The release binaries every packaging script uses: built once (a no-op when up to date).
# CI_PROFILE=dev uses the debug build instead (for trying a script locally). A set
# CARGO_TARGET_DIR (a worktree sharing another checkout's build) is where the binaries are.
release_build() {
  local profile=${CI_PROFILE:-release} dir=release
  [ "$profile" = dev ] && dir=debug
  cargo build --profile "$profile" --locked --quiet -p connector-flowlu -p flowlu-emulator
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/$dir/flowlu-connector
  EMULATOR=${CARGO_TARGET_DIR:-$PWD/target}/$dir/flowlu-emulator
}

# Starts the stand-in on a loopback port; exports FLOWLU_BASE_URL; stops it on exit.
start_emulator() {
  local out
  out=$(mktemp)
  "$EMULATOR" --listen 127.0.0.1:0 --seed 42 "$@" > "$out" &
  EMULATOR_PID=$!
  trap 'kill $EMULATOR_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
  FLOWLU_BASE_URL=$(head -n1 "$out")
  [ -n "$FLOWLU_BASE_URL" ] || { echo "FAILED: the stand-in printed no base URL"; exit 1; }
  export FLOWLU_BASE_URL
  echo "stand-in at $FLOWLU_BASE_URL"
}

# discover's output (one CATALOG line) -> a configured catalog: every stream, incremental
# where supported (the README's one-liner).
configure_catalog() {
  jq -c 'select(.type == "CATALOG") | {streams: [.catalog.streams[] | {stream: ., sync_mode: (if (.supported_sync_modes | index("incremental")) then "incremental" else "full_refresh" end), destination_sync_mode: "append"}]}'
}

fail() { echo "FAILED: $*"; exit 1; }
