#!/usr/bin/env bash
# The image's base where python:*-slim cannot be pulled: Debian bookworm's python3 and
# python3-venv, installed by mmdebstrap from Debian's own packages and imported into
# podman's storage. Built only when the image is missing (about 50 s).
#   tools/image/base.sh            # prints the base image's name
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE_IMAGE=${TENANT_OPERATOR_BASE_IMAGE:-localhost/tenant-operator-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org}

if ! "$here/podman.sh" image exists "$BASE_IMAGE"; then
  command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing: run 'make system-deps'" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  # minbase (essential packages, apt, passwd for useradd) plus Python; no docs, man pages
  # or translations. mmdebstrap drops the apt lists and caches itself.
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "$tmp/base.tar" \
    "deb $MIRROR/debian bookworm main" \
    "deb $MIRROR/debian bookworm-updates main" \
    "deb $MIRROR/debian-security bookworm-security main" >&2
  "$here/podman.sh" import --quiet --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$BASE_IMAGE" >&2
  echo "built $BASE_IMAGE from Debian packages in $((SECONDS - start)) s" >&2
fi
echo "$BASE_IMAGE"
