# syntax=docker/dockerfile:1
# Caseflow production image: one image for every process.
#
#   docker run IMAGE worker            # CaseWorkflow + activities
#   docker run IMAGE api               # HTTP API on 0.0.0.0:8000 (CASEFLOW_API_HOST/PORT)
#   docker run IMAGE intake            # IMAP intake
#   docker run IMAGE db upgrade        # Alembic migrations, then exit
#   docker run IMAGE temporal setup    # register the search attributes, then exit
#
# Only the runtime dependencies are installed (`pip install .`): no dev or devstack extras,
# so there is no Temporal dev server and no development mail server in this image.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the package into a virtualenv that the runtime stage copies ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/caseflow
WORKDIR /src
# pyproject.toml names README.md as the readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY caseflow ./caseflow
RUN /opt/caseflow/bin/pip install --upgrade pip \
 && /opt/caseflow/bin/pip install . \
 && /opt/caseflow/bin/caseflow --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/caseflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CASEFLOW_HOME=/var/lib/caseflow \
    CASEFLOW_API_HOST=0.0.0.0 \
    CASEFLOW_API_PORT=8000
RUN groupadd --system --gid 10001 caseflow \
 && useradd --system --uid 10001 --gid caseflow --home-dir /var/lib/caseflow \
        --create-home --shell /usr/sbin/nologin caseflow
COPY --from=build /opt/caseflow /opt/caseflow
USER caseflow:caseflow
WORKDIR /var/lib/caseflow
EXPOSE 8000
ENTRYPOINT ["caseflow"]
CMD ["--help"]
