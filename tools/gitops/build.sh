#!/usr/bin/env bash
# Build gitops-health (kstatus and Argo CD's Lua interpreter, as GitOps tools judge a
# Tenant) into a versioned cache outside the repository, and print its directory.
#
# Idempotent: when the binary for the pinned versions exists, nothing is built. The
# versions are pinned in tools/gitops/go.mod (sigs.k8s.io/cli-utils and
# github.com/yuin/gopher-lua); go.sum is committed.
#
# Environment:
#   TENANT_OPERATOR_GITOPS_DIR      use exactly this directory instead of the cache
#   XDG_CACHE_HOME                  cache root (default ~/.cache)
#   GO                              the go command (default: go on PATH, else /usr/local/go/bin/go)
#   GITOPS_BUILD_FORCE=1            rebuild even when the binary exists
#
# `build.sh --print-dir` prints the directory without building anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

module_version() { # <go.mod> <module path> -> version pinned in the require block
    awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$1"
}

kstatus_version="$(module_version "$here/go.mod" sigs.k8s.io/cli-utils)"
lua_version="$(module_version "$here/go.mod" github.com/yuin/gopher-lua)"
if [[ -z "$kstatus_version" || -z "$lua_version" ]]; then
    echo "build.sh: cannot read pinned versions from $here/go.mod" >&2
    exit 1
fi
tag="gitops-${kstatus_version}_lua-${lua_version}"
out="${TENANT_OPERATOR_GITOPS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tenant-operator/bin/$tag}"
stamp="$out/.complete"
binary=gitops-health

if [[ "${1:-}" == --print-dir ]] || {
    [[ -f "$stamp" && -x "$out/$binary" ]] && [[ "${GITOPS_BUILD_FORCE:-}" != 1 ]]
}; then
    echo "$out"
    exit 0
fi

go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
if [[ ! -x "$go" ]] && ! command -v "$go" >/dev/null; then
    echo "build.sh: Go is required to build $tag (set GO=/path/to/go)" >&2
    exit 1
fi

# Build into a scratch directory beside the target and move into place at the end, so
# an interrupted build never looks complete.
mkdir -p "$(dirname "$out")"
work="$(mktemp -d "$(dirname "$out")/.build-$tag.XXXXXX")"
trap 'rm -rf "$work"' EXIT

export GOFLAGS="-mod=readonly ${GOFLAGS:-}"
export CGO_ENABLED=0

start=$SECONDS
echo "build.sh: building $binary (cli-utils $kstatus_version, gopher-lua $lua_version)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "-s -w" -o "$work/$binary" .)
printf 'cli-utils %s\ngopher-lua %s\n' "$kstatus_version" "$lua_version" >"$work/.complete"

mkdir -p "$out"
mv -f "$work/$binary" "$out/$binary"
mv -f "$work/.complete" "$stamp"
echo "build.sh: built in $((SECONDS - start))s" >&2
echo "$out"
