#!/usr/bin/env bash
# `make image`: the Dockerfile built with podman on the Debian-built base (tools/image/
# base.sh), as root, with the network of the host.
#
# pip inside the build reaches the package index with the CA bundle the host's pip is
# configured with (PIP_CERT or `pip config get global.cert`): mounted read-only for the
# build's RUN steps and named by the build stage's PIP_CERT argument, never copied into
# a layer.
#   tools/image/build.sh   # TENANT_OPERATOR_IMAGE=localhost/tenant-operator:dev
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
IMAGE=${TENANT_OPERATOR_IMAGE:-localhost/tenant-operator:dev}
PYTHON=${PYTHON:-python3}
CERT_IN_BUILD=/run/pip-ca/ca-certificates.crt

start=$SECONDS
base=$("$here/base.sh")
cert=${PIP_CERT:-$("$PYTHON" -m pip config get global.cert 2>/dev/null || true)}
args=(--build-arg "PYTHON_IMAGE=$base")
if [ -n "$cert" ]; then
  [ -f "$cert" ] || { echo "pip's CA bundle $cert does not exist" >&2; exit 1; }
  args+=(--volume "$cert:$CERT_IN_BUILD:ro" --build-arg "PIP_CERT=$CERT_IN_BUILD")
fi
"$here/podman.sh" build --network host --pull=never "${args[@]}" \
  --tag "$IMAGE" --file "$root/Dockerfile" "$root"
echo "built $IMAGE in $((SECONDS - start)) s"
"$here/podman.sh" image inspect --format '{{.Id}} size {{.Size}} bytes, {{len .RootFS.Layers}} layers' "$IMAGE"
"$here/podman.sh" history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-150
