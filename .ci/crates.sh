#!/usr/bin/env bash
# CI: the crates a platform depends on. `cargo package` (verified: each packed crate builds on
# its own, from the files inside it) for connector-core, connector-runner, connector-spool, connector-flowlu and
# flowlu-emulator (connector-flowlu's tests use it); `cargo doc --no-deps` with warnings denied;
# and the README's dependency lines, path form and git form, in a new project outside the
# workspace that calls the form and the validation call (the git form from a clone of this
# checkout, as file:// URL).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source .ci/lib.sh
crates=(connector-core connector-runner connector-spool connector-flowlu flowlu-emulator)

echo "== cargo package ${crates[*]}"
# Cargo verifies each crate against the others through a temporary local registry, and it
# unpacks what that registry holds into $CARGO_HOME/registry/src (and cache) under a name that
# depends only on this checkout's path. A copy unpacked by an earlier run at the same path and
# version is used again as it is, so a machine that ran CI before would build against old
# sources. Those copies of this workspace's own crates go first; nothing from crates.io is touched.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for c in "${crates[@]}" connector-jsonl; do
  rm -rf "$cargo_home"/registry/src/*/"$c-0.1.0" "$cargo_home"/registry/cache/*/"$c-0.1.0.crate"
done
cargo package --locked --allow-dirty --quiet "${crates[@]/#/-p}" || fail "cargo package"
for c in "${crates[@]}"; do
  files=$(tar -tzf "target/package/$c-0.1.0.crate")
  grep -q "^$c-0.1.0/README.md$" <<<"$files" || fail "$c's package holds no README.md"
done

echo "== cargo doc --no-deps (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet || fail "cargo doc"

echo "== the README's dependency lines in a project of its own"
work=$(mktemp -d)
git clone --quiet "$root" "$work/flowlu-connector"
git -C "$work/flowlu-connector" checkout --quiet "$(git rev-parse HEAD)"
# The working tree's changes too, when run before a commit.
git diff HEAD | git -C "$work/flowlu-connector" apply --allow-empty
mkdir -p "$work/host/src"
cat > "$work/host/src/main.rs" <<'RSEOF'
use connector_core::Credential;
use connector_flowlu::FlowluCredential;

#[tokio::main]
async fn main() {
    let form = FlowluCredential::form().unwrap();
    assert_eq!(form.schema["properties"]["api_key"]["writeOnly"], true);
    let value = serde_json::json!({"name": "CRM", "account_domain": "mycompany", "api_key": "k"});
    let credential = FlowluCredential::from_config(&value).unwrap();
    println!("form ok; account {}", credential.account_domain.host());
    let _ = credential.meta();
}
RSEOF
for form in path git; do
  if [ $form = path ]; then
    dep='{ path = "../flowlu-connector/CRATE", version = "0.1.0" }'
  else
    dep="{ git = \"file://$work/flowlu-connector\", version = \"0.1.0\" }"
  fi
  cat > "$work/host/Cargo.toml" <<TOMLEOF
[package]
name = "host"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
connector-core = ${dep//CRATE/connector-core}
connector-flowlu = ${dep//CRATE/connector-flowlu}
serde_json = "1"
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
TOMLEOF
  cp Cargo.lock "$work/host/Cargo.lock"
  # The workspace's build directory: the dependencies compile once for both forms.
  out=$(cd "$work/host" && CARGO_TARGET_DIR="$root/target/host-project" cargo run --quiet) || fail "a host project with the $form form"
  [ "$out" = "form ok; account mycompany.flowlu.com" ] || fail "the $form form's program printed: $out"
  echo "dependency lines, $form form: ok"
done
rm -rf "$work"
echo "crates: package (${#crates[@]}), doc, dependency lines (2): ok"
