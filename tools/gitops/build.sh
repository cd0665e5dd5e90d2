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
# shellcheck source=tools/lib/gobuild.sh
source "$here/../lib/gobuild.sh"

kstatus_version="$(module_version "$here/go.mod" sigs.k8s.io/cli-utils)"
lua_version="$(module_version "$here/go.mod" github.com/yuin/gopher-lua)"
if [[ -z "$kstatus_version" || -z "$lua_version" ]]; then
    echo "build.sh: cannot read pinned versions from $here/go.mod" >&2
    exit 1
fi
tag="gitops-${kstatus_version}_lua-${lua_version}"
out="$(cache_dir "${TENANT_OPERATOR_GITOPS_DIR:-}" "$tag")"
binary=gitops-health
skip_if_built "$out" "${GITOPS_BUILD_FORCE:-}" "${1:-}" "$binary"

go="$(find_go "$tag")"
make_scratch "$out" "$tag"
go_env
start=$SECONDS
echo "build.sh: building $binary (cli-utils $kstatus_version, gopher-lua $lua_version)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "-s -w" -o "$work/$binary" .)
install_built "$work" "$out" "cli-utils $kstatus_version, gopher-lua $lua_version" "$binary"
echo "build.sh: built in $((SECONDS - start))s" >&2
