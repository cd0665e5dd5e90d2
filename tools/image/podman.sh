#!/usr/bin/env bash
# podman as it works on these machines: root, runc (crun is refused), the vfs storage
# driver, and tools/image/containers.conf (no default ulimits: they are refused too).
# Every podman call of `make image` and the image e2e test goes through here, so the
# image they build is the image they run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="$here/containers.conf"
exec podman --runtime runc --storage-driver vfs "$@"
