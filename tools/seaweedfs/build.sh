#!/usr/bin/env bash
# Build SeaweedFS's `weed` (the S3 server the storage tests and `make dev` run) from its
# published Go module into a versioned cache outside the repository, and print the
# directory it is in.
#
# Idempotent: when the binary for the pinned version exists, nothing is built.
# The version is pinned in tools/seaweedfs/go.mod (github.com/seaweedfs/seaweedfs);
# go.sum is committed.
#
# Environment:
#   TENANT_OPERATOR_SEAWEEDFS_DIR  use exactly this directory instead of the cache
#   XDG_CACHE_HOME                 cache root (default ~/.cache)
#   GO                             the go command (default: go on PATH, else /usr/local/go/bin/go)
#   SEAWEEDFS_BUILD_FORCE=1        rebuild even when the binary exists
#
# `build.sh --print-dir` prints the directory without building anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/gobuild.sh
source "$here/../lib/gobuild.sh"

version="$(module_version "$here/go.mod" github.com/seaweedfs/seaweedfs)"
if [[ -z "$version" ]]; then
    echo "build.sh: cannot read the pinned github.com/seaweedfs/seaweedfs version from $here/go.mod" \
        "(restore it with git, or run \`go mod tidy\` in $here)" >&2
    exit 1
fi
tag="seaweedfs-$version"
out="$(cache_dir "${TENANT_OPERATOR_SEAWEEDFS_DIR:-}" "$tag")"
skip_if_built "$out" "${SEAWEEDFS_BUILD_FORCE:-}" "${1:-}" weed

go="$(find_go "$tag")"
make_scratch "$out" "$tag"
go_env
start=$SECONDS
echo "build.sh: building seaweedfs weed $version (about 5-10 minutes on a cold cache)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "-s -w" -o "$work/weed" github.com/seaweedfs/seaweedfs/weed)
install_built "$work" "$out" "seaweedfs $version" weed
echo "build.sh: built in $((SECONDS - start))s" >&2
