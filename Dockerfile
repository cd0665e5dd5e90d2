# The tenant-operator image: `docker build -t tenant-operator .`
#
# Two stages on the same Python base: `build` installs the pinned runtime dependencies
# (constraints.txt) and the package into a virtualenv; the final stage copies only that
# virtualenv. No compiler, pip, setuptools or pip cache reaches the final image. It runs as
# a numeric non-root user and writes nothing outside /tmp, so it works with a read-only
# root filesystem (the chart mounts an emptyDir on /tmp).
#
# The base is pinned by version. To pin it by digest as well, resolve the tag once and
# build with the result (both stages use it):
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   # prints "Digest: sha256:..."
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Any Debian-based image with python3 and its venv module serves as the base: `make image`
# (tools/image/) builds on one made from Debian's packages with mmdebstrap, where the
# pinned base cannot be pulled. Hence `python3` (both bases have it; Debian's has no
# `python`) and the virtualenv's own pip (Debian's base has no system pip).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# The CA bundle pip verifies the package index with, where a proxy needs one: a path the
# build mounts read-only (`podman build --volume <bundle>:<path>:ro --build-arg
# PIP_CERT=<path>`). A build argument of this stage only: neither the bundle nor the
# setting reaches the final image. Unset, pip uses its own bundle.
ARG PIP_CERT
WORKDIR /src
# The virtualenv's pip installs into it and is uninstalled at the end, so the virtualenv
# holds only the operator and its runtime dependencies.
RUN python3 -m venv /opt/venv

# Dependencies first, from pyproject.toml's lists and pinned by constraints.txt, so this
# layer is reused while only the source changes. The `image` extra is psycopg's binary
# wheel, which bundles libpq (the slim base has none).
COPY pyproject.toml constraints.txt ./
RUN python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["image"]))' > requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt -r requirements.txt

# Then the package itself; its dependencies are already there.
COPY README.md ./
COPY operator/ operator/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
 && /opt/venv/bin/tenant-operator --help > /dev/null \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools


FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="tenant-operator" \
      org.opencontainers.image.description="Kubernetes operator that provisions isolated IntegraCI tenants in PostgreSQL and OpenBao" \
      org.opencontainers.image.source="https://github.com/integraci/tenant-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
# A passwd entry for the runtime user: kopf names its peering identity after
# getpass.getuser(), which fails for a uid without one (unless POD_ID is set). The
# system pip, setuptools and wheel go where the base has them: nothing installs anything
# at run time.
RUN groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot \
 && if python3 -m pip --version > /dev/null 2>&1; then \
      python3 -m pip uninstall --yes --quiet pip setuptools wheel; fi
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# 8080: kopf's liveness /healthz; 9090: Prometheus /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["tenant-operator"]
CMD ["run"]
