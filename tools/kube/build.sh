#!/usr/bin/env bash
# Build kube-apiserver, kubectl and etcd from their published Go modules into a
# versioned cache outside the repository, and print the directory they are in.
#
# Idempotent: when the binaries for the pinned versions exist, nothing is built.
# The versions are pinned in tools/kube/go.mod (k8s.io/kubernetes) and
# tools/kube/etcd/go.mod (go.etcd.io/etcd/server/v3); go.sum files are committed.
#
# Environment:
#   TENANT_OPERATOR_BIN_DIR  use exactly this directory instead of the cache
#   XDG_CACHE_HOME           cache root (default ~/.cache)
#   GO                       the go command (default: go on PATH, else /usr/local/go/bin/go)
#   KUBE_BUILD_FORCE=1       rebuild even when the binaries exist
#
# `build.sh --print-dir` prints the directory without building anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/gobuild.sh
source "$here/../lib/gobuild.sh"

kube_version="$(module_version "$here/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$kube_version" || -z "$etcd_version" ]]; then
    echo "build.sh: cannot read pinned versions from $here/go.mod and $here/etcd/go.mod" >&2
    exit 1
fi
tag="kube-${kube_version}_etcd-${etcd_version}"
out="$(cache_dir "${TENANT_OPERATOR_BIN_DIR:-}" "$tag")"
binaries=(kube-apiserver kubectl etcd)
skip_if_built "$out" "${KUBE_BUILD_FORCE:-}" "${1:-}" "${binaries[@]}"

minor="${kube_version#v1.}"; minor="${minor%%.*}"
version_pkg=k8s.io/component-base/version
ldflags="-s -w \
 -X $version_pkg.gitVersion=$kube_version \
 -X $version_pkg.gitMajor=1 \
 -X $version_pkg.gitMinor=$minor \
 -X $version_pkg.gitTreeState=clean"

go="$(find_go "$tag")"
make_scratch "$out" "$tag"
go_env
start=$SECONDS
echo "build.sh: building kube-apiserver and kubectl $kube_version, etcd $etcd_version (this takes a while on a cold cache)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "$ldflags" -o "$work/" ./cmd/kube-apiserver ./cmd/kubectl)
(cd "$here/etcd" && "$go" build -trimpath -ldflags "-s -w" -o "$work/etcd" .)
install_built "$work" "$out" "kubernetes $kube_version, etcd $etcd_version" "${binaries[@]}"
echo "build.sh: built in $((SECONDS - start))s" >&2
