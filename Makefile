# The two commands a new user runs: `make dev` and `make test`. Everything they need is
# installed here, from the project's own files: a virtualenv from the pinned constraints,
# Debian's PostgreSQL 15 when initdb is missing, and the Kubernetes binaries built from
# their Go modules into a cache outside the repo.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: dev test unit venv system-deps image image-e2e cluster-bins kube-bins s3-bins lint chart-lint crds bench kind-e2e clean

HELM = $$(bash tools/helm/build.sh --print-dir)/helm
CHART := charts/tenant-operator
# What a user must set (the README's Install section); enough for lint and template.
CHART_VALUES := --set database.existingSecret=tenant-operator-database \
	--set openbao.address=https://openbao.openbao.svc:8200

dev: system-deps venv kube-bins s3-bins
	$(BIN)/python -m devenv

test: system-deps venv cluster-bins lint chart-lint
	@set +e; $(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

# The unit tests alone (no PostgreSQL, OpenBao or kube-apiserver is started): seconds.
unit: venv
	@set +e; $(BIN)/pytest tests/unit $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# initdb/postgres come from Debian's postgresql-15 (installed only when missing). The
# image tools (podman, buildah, runc, mmdebstrap for the base; uidmap for podman) too:
# without root they are not installed, and the image tests fail saying so.
IMAGE_TOOLS := podman buildah runc mmdebstrap newuidmap
IMAGE_PACKAGES := podman buildah runc mmdebstrap uidmap
system-deps:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install postgresql-15'" >&2; exit 1; \
	  fi; \
	fi
	@missing=; for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null || PATH=$$PATH:/usr/sbin command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(IMAGE_PACKAGES) >/dev/null; \
	  else \
	    echo "WARNING: podman/buildah/runc/mmdebstrap are missing and the image tests will fail:" \
	      "run 'sudo apt-get install $(IMAGE_PACKAGES)'" >&2; \
	  fi; \
	fi

# kube-apiserver, kubectl, etcd, helm, the GitOps health checker and SeaweedFS, built from
# their Go modules into ~/.cache/tenant-operator/bin (nothing is built when they are there).
cluster-bins: kube-bins s3-bins
	bash tools/helm/build.sh
	bash tools/gitops/build.sh

# What `make dev` needs: kube-apiserver, kubectl and etcd.
kube-bins:
	bash tools/kube/build.sh

# SeaweedFS's weed: the S3 server the storage tests and `make dev` run.
s3-bins:
	bash tools/seaweedfs/build.sh

lint: venv
	$(BIN)/ruff check operator devenv tests bench
	$(BIN)/ruff format --check operator devenv tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/tenant-operator crds --check

# hadolint reviews the Dockerfile (`make image` builds it).
chart-lint: venv cluster-bins
	$(BIN)/hadolint Dockerfile
	$(HELM) lint --strict $(CHART) $(CHART_VALUES)
	$(HELM) template tenant-operator $(CHART) $(CHART_VALUES) >/dev/null

# The chart carries copies of the CRDs and of the operator's OpenBao policies.
crds: venv
	$(BIN)/tenant-operator crds
	$(BIN)/python -c 'from tenant_operator.adapters.openbao.policies import write_shipped_policies; write_shipped_policies()'
	cp crds/*.yaml $(CHART)/crds/
	cp operator/tenant_operator/adapters/openbao/operator*.hcl $(CHART)/files/

bench: venv kube-bins
	$(BIN)/python -m bench.postgres
	$(BIN)/python -m bench.openbao
	$(BIN)/python -m bench.operator

# The image, built with podman as root on a base made from Debian's packages (the python
# base cannot be pulled here): see tools/image/build.sh and the README's "Container image".
image: system-deps
	bash tools/image/build.sh

# The built image run with podman under the chart's pod spec against the dev services.
image-e2e: image venv cluster-bins
	@set +e; TENANT_OPERATOR_IMAGE_BUILT=1 $(BIN)/pytest tests/e2e/operator/test_image.py $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

# For users with Docker and kind (it cannot run here): see the README.
kind-e2e:
	bash tools/kind-e2e.sh

clean:
	rm -rf $(VENV) .dev .mypy_cache .ruff_cache .pytest_cache
