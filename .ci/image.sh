#!/usr/bin/env bash
# CI: builds the Airbyte image FROM scratch with podman (packaging/source-flowlu/build-image.sh)
# from the release binary, runs spec, check (good and bad key), discover and an incremental read
# (then a read from its state) through the image against the stand-in, and saves the image under
# its fully qualified name (docker.io/<dockerRepository>:<dockerImageTag> of metadata.yaml) as an
# OCI archive (target/source-flowlu-image.oci.tar) and a docker-archive with manifest.json
# (target/source-flowlu-image.docker.tar). Then takes both the ways a cluster does: containerd's
# `ctr -n k8s.io images import` (what kind and a node's operator run; a containerd of its own is
# started here) and skopeo (what copies an archive to a registry), and checks the name each
# finds. Installs podman, runc, skopeo, containerd and jq if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
apt_install podman runc skopeo containerd jq
release_build
start_emulator --records 100
oci=target/source-flowlu-image.oci.tar
docker_archive=target/source-flowlu-image.docker.tar
packaging/source-flowlu/build-image.sh "$BIN" "$oci" "$docker_archive"
version=$(sed -n 's/^ *dockerImageTag: *//p' packaging/source-flowlu/metadata.yaml)
repository=$(sed -n 's/^ *dockerRepository: *//p' packaging/source-flowlu/metadata.yaml)
case $repository in airbyte/*) fail "metadata.yaml's dockerRepository ($repository) takes Airbyte's namespace" ;; esac
# documentationUrl: this project's documentation, a file of the checkout (relative to
# metadata.yaml) or an https URL; never Airbyte's page of its own Flowlu connector.
docs=$(sed -n 's/^ *documentationUrl: *//p' packaging/source-flowlu/metadata.yaml)
case $docs in
  *docs.airbyte.com*|"") fail "metadata.yaml's documentationUrl ($docs) is not this project's documentation" ;;
  https://*) ;;
  *://*) fail "metadata.yaml's documentationUrl ($docs) is neither https nor a file of the checkout" ;;
  *) [ -f "packaging/source-flowlu/${docs%%#*}" ] || fail "metadata.yaml's documentationUrl ($docs) names no file of the checkout" ;;
esac
image=docker.io/$repository:$version
podman=(podman --runtime runc --cgroup-manager cgroupfs)
[ "$("${podman[@]}" image inspect "$image" --format '{{index .Config.Labels "io.airbyte.name"}} {{index .Config.Labels "io.airbyte.version"}}')" = "$repository $version" ] || fail "image labels"
"${podman[@]}" image inspect "$image" --format '{{.Config.Env}}' | grep -q 'AIRBYTE_ENTRYPOINT=/airbyte/bin/flowlu-connector' || fail "AIRBYTE_ENTRYPOINT"

work=$(mktemp -d)
echo '{"name": "image", "account_domain": "image", "api_key": "emulator-key"}' > "$work/config.json"
echo '{"name": "image", "account_domain": "image", "api_key": "wrong-key"}' > "$work/bad.json"
run() {
  "${podman[@]}" run --rm -i --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    -e FLOWLU_BASE_URL -v "$work:/data:Z" "$image" "$@"
}
run spec | jq -e 'select(.type == "SPEC") | .spec.connectionSpecification.properties.api_key.airbyte_secret' >/dev/null || fail "spec through the image"
run check --config /data/config.json | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "SUCCEEDED"' >/dev/null || fail "check (good key) through the image"
run check --config /data/bad.json | jq -e 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status == "FAILED"' >/dev/null || fail "check (bad key) through the image"
run discover --config /data/config.json > "$work/catalog.jsonl" || fail "discover through the image"
streams=$(jq -r 'select(.type == "CATALOG") | .catalog.streams | length' "$work/catalog.jsonl")
[ "${streams:-0}" -gt 0 ] || fail "discover printed no streams"
configure_catalog < "$work/catalog.jsonl" > "$work/configured.json"
run read --config /data/config.json --catalog /data/configured.json > "$work/read1.jsonl" || fail "read through the image"
records1=$(grep -c '"type":"RECORD"' "$work/read1.jsonl" || true)
[ "$records1" -gt 0 ] || fail "the first read returned no record"
jq -c 'select(.type == "STATE") | .state' "$work/read1.jsonl" | jq -s -c . > "$work/state.json"
[ "$(jq length "$work/state.json")" -gt 0 ] || fail "the first read emitted no STATE"
run read --config /data/config.json --catalog /data/configured.json --state /data/state.json > "$work/read2.jsonl" || fail "read from state through the image"
records2=$(grep -c '"type":"RECORD"' "$work/read2.jsonl" || true)
[ "$records2" -lt "$records1" ] || fail "the read from state repeated everything ($records2 of $records1 records)"
grep -q '"type":"STATE"' "$work/read2.jsonl" || fail "the read from state emitted no STATE"
rm -rf "$work"
echo "image: spec, check (2), discover ($streams streams), read ($records1 records), read from state ($records2 records): ok"

# The archives as a cluster takes them. skopeo: each archive holds the image under its fully
# qualified name (selecting it by that name works, by Airbyte's name does not), with the labels.
for ref in "oci-archive:$oci" "docker-archive:$docker_archive"; do
  labels=$(skopeo inspect "$ref:$image" | jq -r '.Labels["io.airbyte.name"] + " " + .Labels["io.airbyte.version"]') \
    || fail "skopeo finds no $image in ${ref#*:}"
  [ "$labels" = "$repository $version" ] || fail "skopeo: labels of $image in ${ref#*:}: $labels"
  if skopeo inspect "$ref:airbyte/source-flowlu:$version" >/dev/null 2>&1; then fail "${ref#*:} answers to airbyte/source-flowlu"; fi
done
tar -xOf "$docker_archive" manifest.json | jq -e --arg i "$image" '.[0].RepoTags == [$i]' >/dev/null \
  || fail "$docker_archive: manifest.json does not name $image"
# containerd: a daemon of its own (its own root, state and socket; no CRI plugin), then the
# import kind and a Kubernetes node run, into the k8s.io namespace, once per archive.
ctrd=$(mktemp -d)
printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/containerd.sock"\n' \
  "$ctrd" "$ctrd" "$ctrd" > "$ctrd/config.toml"
containerd --config "$ctrd/config.toml" > "$ctrd/log" 2>&1 &
CONTAINERD_PID=$!
trap 'kill $EMULATOR_PID $CONTAINERD_PID 2>/dev/null || true' EXIT
ctr=(ctr --address "$ctrd/containerd.sock" --timeout 10s)
for _ in $(seq 1 100); do [ -S "$ctrd/containerd.sock" ] && break; sleep 0.1; done
"${ctr[@]}" version >/dev/null || { cat "$ctrd/log"; fail "containerd did not start"; }
for archive in "$oci" "$docker_archive"; do
  "${ctr[@]}" -n k8s.io images rm "$image" >/dev/null 2>&1 || true
  "${ctr[@]}" -n k8s.io images import "$archive" >/dev/null || fail "ctr import $archive"
  names=$("${ctr[@]}" -n k8s.io images ls -q)
  [ "$names" = "$image" ] || fail "ctr import $archive: the node knows the image as '$names', not $image"
done
kill $CONTAINERD_PID
wait $CONTAINERD_PID 2>/dev/null || true
rm -rf "$ctrd"
echo "image: ctr import (OCI archive and docker-archive) and skopeo (both) name it $image: ok"
echo "image: 8 passed, 0 failed"
