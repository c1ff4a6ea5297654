#!/usr/bin/env bash
# Builds the Airbyte image docker.io/<dockerRepository>:<dockerImageTag> of metadata.yaml
# (docker.io/flowlu-connector/source-flowlu:0.1.0) FROM scratch with podman, from a built binary,
# and saves it twice under that fully qualified name: an OCI archive (skopeo, containerd's
# `ctr import`, kind, minikube) and a docker-archive with manifest.json (`docker load`, any
# Docker version).
#   packaging/source-flowlu/build-image.sh [BINARY] [OCI_ARCHIVE] [DOCKER_ARCHIVE]
# Defaults: target/release/flowlu-connector, target/source-flowlu-image.oci.tar,
# target/source-flowlu-image.docker.tar.
# Needs podman and runc (.ci/image.sh installs them). Podman runs with `PODMAN` (default: runc,
# cgroupfs: what this sandbox supports; see README "An image").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/flowlu-connector}
archive=${2:-$root/target/source-flowlu-image.oci.tar}
docker_archive=${3:-$root/target/source-flowlu-image.docker.tar}
podman=(${PODMAN:-podman --runtime runc --cgroup-manager cgroupfs})
version=$(sed -n 's/^ *dockerImageTag: *//p' "$here/metadata.yaml")
repository=$(sed -n 's/^ *dockerRepository: *//p' "$here/metadata.yaml")
# Fully qualified: a short name would be saved as localhost/<name> by podman, which neither
# Kubernetes nor Docker asks for. docker.io/<repository> is what both make of the short name.
image="docker.io/$repository:$version"
[ -x "$bin" ] || { echo "build-image.sh: no binary at $bin (cargo build --release -p connector-flowlu)"; exit 1; }

ctx="$root/target/image-context"
rm -rf "$ctx"
mkdir -p "$ctx/rootfs/airbyte/bin" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp "$bin" "$ctx/rootfs/airbyte/bin/flowlu-connector"
# Symbols are not needed at run time (47 MB -> about 10 MB).
if command -v strip >/dev/null; then strip "$ctx/rootfs/airbyte/bin/flowlu-connector"; fi
# Every shared library and the loader, at the paths the binary asks for (symlinks resolved).
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  cp -L --parents "$lib" "$ctx/rootfs/"
done
cp "$here/Containerfile" "$ctx/Containerfile"
"${podman[@]}" build --quiet --network host --build-arg "VERSION=$version" \
  --build-arg "REPOSITORY=$repository" -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null
rm -f "$archive" "$docker_archive"
"${podman[@]}" save --quiet --format oci-archive -o "$archive" "$image"
"${podman[@]}" save --quiet --format docker-archive -o "$docker_archive" "$image"
echo "built $image ($(du -sh "$ctx/rootfs" | cut -f1) unpacked), saved to $archive and $docker_archive"
