#!/usr/bin/env bash
# Build the helm (v3) binary from its published Go module into a versioned cache
# outside the repository, and print the directory it is in.
#
# Idempotent: when the binary for the pinned version exists, nothing is built.
# The version is pinned in tools/helm/go.mod (helm.sh/helm/v3); go.sum is committed.
#
# Environment:
#   TENANT_OPERATOR_HELM_DIR  use exactly this directory instead of the cache
#   XDG_CACHE_HOME            cache root (default ~/.cache)
#   GO                        the go command (default: go on PATH, else /usr/local/go/bin/go)
#   HELM_BUILD_FORCE=1        rebuild even when the binary exists
#
# `build.sh --print-dir` prints the directory without building anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/lib/gobuild.sh
source "$here/../lib/gobuild.sh"

helm_version="$(module_version "$here/go.mod" helm.sh/helm/v3)"
client_go_version="$(module_version "$here/go.mod" k8s.io/client-go)"
if [[ -z "$helm_version" || -z "$client_go_version" ]]; then
    echo "build.sh: cannot read the pinned helm.sh/helm/v3 and k8s.io/client-go versions from $here/go.mod" \
        "(restore it with git, or run \`go mod tidy\` in $here)" >&2
    exit 1
fi
tag="helm-$helm_version"
out="$(cache_dir "${TENANT_OPERATOR_HELM_DIR:-}" "$tag")"
skip_if_built "$out" "${HELM_BUILD_FORCE:-}" "${1:-}" helm

# The version stamps helm's own Makefile sets for a release build: `helm version`
# reports the tag, and the default Capabilities.KubeVersion (`helm template`,
# `helm lint`) follows the client-go helm is built with (v0.37 -> Kubernetes 1.37)
# instead of the v1.20 fallback compiled into the source.
k8s_minor="${client_go_version#v0.}"; k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w \
 -X helm.sh/helm/v3/internal/version.version=$helm_version \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"

go="$(find_go "$tag")"
make_scratch "$out" "$tag"
go_env
start=$SECONDS
echo "build.sh: building helm $helm_version (this takes a while on a cold cache)" >&2
(cd "$here" && "$go" build -trimpath -ldflags "$ldflags" -o "$work/helm" helm.sh/helm/v3/cmd/helm)
install_built "$work" "$out" "helm $helm_version" helm
echo "build.sh: built in $((SECONDS - start))s" >&2
