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

module_version() { # <go.mod> <module path> -> version pinned in the require block
    awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$1"
}

kube_version="$(module_version "$here/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$kube_version" || -z "$etcd_version" ]]; then
    echo "build.sh: cannot read pinned versions from $here/go.mod and $here/etcd/go.mod" >&2
    exit 1
fi
tag="kube-${kube_version}_etcd-${etcd_version}"
out="${TENANT_OPERATOR_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tenant-operator/bin/$tag}"
stamp="$out/.complete"
binaries=(kube-apiserver kubectl etcd)

complete() {
    [[ -f "$stamp" ]] || return 1
    for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done
}

if [[ "${1:-}" == --print-dir ]] || { complete && [[ "${KUBE_BUILD_FORCE:-}" != 1 ]]; }; then
    echo "$out"
    exit 0
fi

go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [[ ! -x "$go" ]] && ! command -v "$go" >/dev/null; then
    echo "build.sh: Go is required to build $tag (set GO=/path/to/go)" >&2
    exit 1
fi

# Build into a scratch directory beside the target and move into place at the
# end, so an interrupted build never looks complete.
mkdir -p "$(dirname "$out")"
work="$(mktemp -d "$(dirname "$out")/.build-$tag.XXXXXX")"
trap 'rm -rf "$work"' EXIT

minor="${kube_version#v1.}"; minor="${minor%%.*}"
version_pkg=k8s.io/component-base/version
ldflags="-s -w \
 -X $version_pkg.gitVersion=$kube_version \
 -X $version_pkg.gitMajor=1 \
 -X $version_pkg.gitMinor=$minor \
 -X $version_pkg.gitTreeState=clean"

export GOFLAGS="-mod=readonly ${GOFLAGS:-}"
export CGO_ENABLED=0

start=$SECONDS
echo "build.sh: building kube-apiserver and kubectl $kube_version, etcd $etcd_version (this takes a while on a cold cache)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "$ldflags" -o "$work/" ./cmd/kube-apiserver ./cmd/kubectl)
(cd "$here/etcd" && "$go" build -trimpath -ldflags "-s -w" -o "$work/etcd" .)
printf 'kubernetes %s\netcd %s\n' "$kube_version" "$etcd_version" >"$work/.complete"

mkdir -p "$out"
for b in "${binaries[@]}"; do mv -f "$work/$b" "$out/$b"; done
mv -f "$work/.complete" "$stamp"
echo "build.sh: built in $((SECONDS - start))s" >&2
echo "$out"
