#!/usr/bin/env bash
# `make kind-e2e`: the operator image and the Helm chart on a real cluster (kind), end to end.
#
# Builds the image, creates the kind cluster tenant-operator-e2e, runs PostgreSQL 15 and an
# OpenBao dev server in it (tools/kind/), creates the roles with `tenant-operator
# bootstrap-roles` (a Job with the image), gives the operator an OpenBao token holding only
# the chart's policy, installs the chart, applies examples/ and waits for every Tenant to be
# Ready. The cluster is deleted at the end unless KEEP=1.
#
# Needs: docker (a running engine), kind, kubectl; helm is built from tools/helm (needs Go)
# or taken from PATH. Generated passwords and tokens go only into Secrets, never to output.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=tenant-operator-e2e
IMAGE=tenant-operator:kind-e2e
NS=tenant-operator
export KUBECONFIG="${TMPDIR:-/tmp}/kind-$CLUSTER.kubeconfig"

die() { echo "kind-e2e: $*" >&2; exit 1; }
step() { echo "==> $*"; }
random() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
# Create a Secret whose values are read from stdin (never on a command line).
secret() { kubectl create secret generic "$2" --namespace "$1" --from-env-file=/dev/stdin; }

for tool in docker kind kubectl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (needed: docker, kind, kubectl)"
done
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (is it running?)"
if command -v go >/dev/null || [[ -x "$(bash tools/helm/build.sh --print-dir)/helm" ]]; then
    helm="$(bash tools/helm/build.sh)/helm" # the pinned helm, built once and cached
elif command -v helm >/dev/null; then
    helm=helm
else
    die "helm is missing: install Go (tools/helm/build.sh builds the pinned one) or helm"
fi
if kind get clusters 2>/dev/null | grep -x "$CLUSTER" >/dev/null; then
    die "a kind cluster $CLUSTER exists already (from KEEP=1?): kind delete cluster --name $CLUSTER"
fi

step "building $IMAGE"
docker build -t "$IMAGE" .

step "creating the kind cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s
finish() {
    local status=$?
    if [[ $status -ne 0 ]]; then
        kubectl get pods --all-namespaces || true
        kubectl logs --namespace postgres job/bootstrap-roles --tail=50 || true
        kubectl logs --namespace "$NS" deployment/tenant-operator --tail=50 || true
    fi
    if [[ "${KEEP:-}" == 1 ]]; then
        echo "KEEP=1: the cluster stays; export KUBECONFIG=$KUBECONFIG"
        echo "  delete it with: kind delete cluster --name $CLUSTER"
    else
        kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
    fi
    exit "$status"
}
trap finish EXIT
kind load docker-image "$IMAGE" --name "$CLUSTER"
for ns in postgres openbao "$NS"; do kubectl create namespace "$ns"; done

step "starting PostgreSQL and OpenBao"
pg_password="$(random)"
operator_password="$(random)"
root_token="$(random)"
echo "password=$pg_password" | secret postgres postgres
echo "root-token=$root_token" | secret openbao openbao
kubectl apply -f tools/kind/postgres.yaml -f tools/kind/openbao.yaml
kubectl rollout status --namespace postgres deployment/postgres --timeout=180s
kubectl rollout status --namespace openbao deployment/openbao --timeout=180s

step "tenant-operator bootstrap-roles (a Job with the image)"
printf 'DATABASE_URL=%s\nTENANT_OPERATOR_OPERATOR_PASSWORD=%s\n' \
    "postgresql://postgres:$pg_password@postgres.postgres.svc:5432/integraci" \
    "$operator_password" | secret postgres bootstrap-roles
kubectl apply -f tools/kind/bootstrap-roles.yaml
kubectl wait --namespace postgres --for=condition=Complete job/bootstrap-roles --timeout=180s
kubectl logs --namespace postgres job/bootstrap-roles
echo "DATABASE_URL=postgresql://integraci_operator:$operator_password@postgres.postgres.svc:5432/integraci" |
    secret "$NS" tenant-operator-database

step "OpenBao: the chart's operator policy and a token holding only it"
bao() { # the bao CLI inside the OpenBao pod, with the root token that stays there
    # shellcheck disable=SC2016 # expanded by the pod's shell, on purpose
    kubectl exec -i --namespace openbao deployment/openbao -- sh -c \
        'BAO_ADDR=http://127.0.0.1:8200 BAO_TOKEN="$BAO_DEV_ROOT_TOKEN_ID" exec bao "$@"' bao "$@"
}
bao policy write tenant-operator - <charts/tenant-operator/files/operator.hcl
token="$(bao token create -policy=tenant-operator -ttl=24h -field=token </dev/null)"
echo "token=$token" | secret "$NS" tenant-operator-openbao

step "installing the chart"
"$helm" install tenant-operator charts/tenant-operator --namespace "$NS" --wait --timeout 5m \
    --set image.repository=tenant-operator \
    --set image.tag=kind-e2e \
    --set image.pullPolicy=Never \
    --set database.existingSecret=tenant-operator-database \
    --set openbao.address=http://openbao.openbao.svc:8200 \
    --set openbao.auth.method=token \
    --set openbao.auth.token.existingSecret=tenant-operator-openbao \
    --set tenants.createSecretNamespaces=true

step "applying examples/ and waiting for the tenants"
kubectl apply -f examples/
kubectl wait --for=condition=Ready tenants --all --timeout=180s
kubectl get tenants -o wide
step "kind-e2e: every example tenant is Ready"
