#!/usr/bin/env bash
# CI: Airbyte's standard tests (airbyte-cdk's airbyte_cdk.test.standard_tests, from PyPI) at
# test_strictness_level: high, with the stand-in behind the connector, in two runs:
# 1. against the release binary (-m "not image_tests"): packaging/source-flowlu/
#    test_standard_tests.py says exactly what runs: the suite's in-process Source is a thin
#    adapter that runs the binary for each command;
# 2. the suite's image tests (-m image_tests) against the image docker.io/<dockerRepository>:<tag>
#    (--connector-image, so the suite does not build one). They call the `docker` CLI; podman
#    answers through .ci/podman-docker/docker (first on PATH), which also lets the container
#    reach the stand-in. --read-from-streams=all: without it the image read test skips.
#    The image is the one .ci/image.sh built from this release build (.ci/run calls it first);
#    it is built here if it is missing or older than the binary.
# Offline, test_docker_image_spec_backward_compatibility skips cleanly: it fetches the published
# spec from connectors.airbyte.com, and an unreachable registry is a skip (with a warning) in
# airbyte-cdk, not a failure; a connector never published skips too. Nothing is deselected.
# So that it cannot leave loopback on a machine that has a network, the image run's HTTP(S)
# proxy is a closed loopback port (the stand-in, on 127.0.0.1, is exempt through NO_PROXY).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source .ci/lib.sh
apt_install podman runc
release_build
venv=target/ci-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check airbyte-cdk==7.39.1 pytest==9.2.0
version=$(sed -n 's/^ *dockerImageTag: *//p' packaging/source-flowlu/metadata.yaml)
image=docker.io/$(sed -n 's/^ *dockerRepository: *//p' packaging/source-flowlu/metadata.yaml):$version
built=$(podman --runtime runc --cgroup-manager cgroupfs image inspect --format '{{.Created.Unix}}' "$image" 2>/dev/null || echo 0)
if [ "$built" -lt "$(stat -c %Y "$BIN")" ]; then
  packaging/source-flowlu/build-image.sh "$BIN"
fi
start_emulator --records 100
shim=$root/.ci/podman-docker
[ "$(PATH=$shim:$PATH command -v docker)" = "$shim/docker" ] || fail "the docker shim is not first on PATH"

log=$(mktemp -d)
pytest=("$root/$venv/bin/pytest" -v -rs -p no:cacheprovider)
# The last line of a pytest run: "N passed, M skipped, K deselected in Ts".
summary() { grep -E '^=+ .* in [0-9.]+s' "$1" | tail -n1 | sed -E 's/^=+ //; s/ =+$//'; }
cd packaging/source-flowlu

echo "== standard tests against the binary"
FLOWLU_CONNECTOR_BIN=$BIN "${pytest[@]}" -m "not image_tests" | tee "$log/binary.txt" \
  || fail "Airbyte standard tests against the binary (packaging/source-flowlu), see above"

echo "== standard image tests against $image (docker is podman)"
PATH=$shim:$PATH FLOWLU_CONNECTOR_BIN=$BIN HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
  NO_PROXY=127.0.0.1,localhost "${pytest[@]}" -m image_tests \
  --connector-image "$image" --read-from-streams=all | tee "$log/image.txt" \
  || fail "Airbyte standard image tests against $image (packaging/source-flowlu), see above"
grep -q ' passed' <(summary "$log/image.txt") || fail "no image test passed"

echo "standard tests, binary: $(summary "$log/binary.txt")"
echo "standard tests, image:  $(summary "$log/image.txt")"
rm -rf "$log"
