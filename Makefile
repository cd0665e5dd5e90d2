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

.PHONY: dev test venv system-deps cluster-bins lint crds bench clean

dev: system-deps venv cluster-bins
	$(BIN)/tenant-operator dev

test: system-deps venv cluster-bins lint
	@set +e; $(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# initdb/postgres come from Debian's postgresql-15 (installed only when missing).
system-deps:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install postgresql-15'" >&2; exit 1; \
	  fi; \
	fi

cluster-bins:
	bash tools/kube/build.sh

lint: venv
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/tenant-operator crds --check

crds: venv
	$(BIN)/tenant-operator crds

bench: venv cluster-bins
	$(BIN)/python -m bench.postgres
	$(BIN)/python -m bench.openbao
	$(BIN)/python -m bench.operator

clean:
	rm -rf $(VENV) .dev .mypy_cache .ruff_cache .pytest_cache
