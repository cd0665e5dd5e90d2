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

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# A virtualenv without pip: the base image's pip installs into it (--python), so the
# virtualenv holds only the operator and its runtime dependencies.
RUN python -m venv --without-pip /opt/venv

# Dependencies first, from pyproject.toml's lists and pinned by constraints.txt, so this
# layer is reused while only the source changes. The `image` extra is psycopg's binary
# wheel, which bundles libpq (the slim base has none).
COPY pyproject.toml constraints.txt ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["image"]))' > requirements.txt \
 && pip --python /opt/venv/bin/python install --no-cache-dir -c constraints.txt -r requirements.txt

# Then the package itself; its dependencies are already there.
COPY README.md ./
COPY operator/ operator/
RUN pip --python /opt/venv/bin/python install --no-cache-dir --no-deps . \
 && /opt/venv/bin/tenant-operator --help > /dev/null


FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="tenant-operator" \
      org.opencontainers.image.description="Kubernetes operator that provisions isolated IntegraCI tenants in PostgreSQL and OpenBao" \
      org.opencontainers.image.source="https://github.com/integraci/tenant-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
# A passwd entry for the runtime user: kopf names its peering identity after
# getpass.getuser(), which fails for a uid without one (unless POD_ID is set). The
# system pip, setuptools and wheel go: nothing installs anything at run time.
RUN groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot \
 && python -m pip uninstall --yes --quiet pip setuptools wheel
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# 8080: kopf's liveness /healthz; 9090: Prometheus /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["tenant-operator"]
CMD ["run"]
