#!/usr/bin/env bash
# CI: the workspace's declared `rust-version` (Cargo.toml) is the toolchain this CI builds and
# tests with (`rustc --version`, major.minor). Only that toolchain is installed here, so an older
# one is never tried: declaring one would promise what nothing verified. When CI's toolchain
# moves, this fails until `rust-version` follows it.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
declared=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml)
[ -n "$declared" ] || fail "Cargo.toml declares no workspace rust-version"
actual=$(rustc --version | sed -nE 's/^rustc ([0-9]+\.[0-9]+)\..*/\1/p')
[ -n "$actual" ] || fail "cannot read rustc's version from '$(rustc --version)'"
short=$(echo "$declared" | cut -d. -f1,2)
[ "$short" = "$actual" ] ||
  fail "Cargo.toml's rust-version is $declared but CI builds with rustc $actual: set rust-version = \"$actual\" (the toolchain verified)"
for manifest in */Cargo.toml packaging/*/Cargo.toml; do
  if grep -q '^rust-version' "$manifest" && ! grep -q '^rust-version.workspace = true' "$manifest"; then
    fail "$manifest declares a rust-version of its own; use rust-version.workspace = true"
  fi
done
echo "rust-version: $declared, the toolchain CI builds with (rustc $actual): ok"
