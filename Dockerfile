# sfsync's image: the runtime install only (`pip install --constraint constraints.txt .`).
# `docker build .` builds `runtime`; `--target demo` adds the emulator for the compose demo.
# docs/deployment.md describes the stack; tests/unit/test_deploy_files.py lints this file.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/sfsync
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
COPY schemas ./schemas
RUN /opt/sfsync/bin/pip install --constraint constraints.txt .

# Development only: the local Salesforce emulator and `sfsync demo`.
FROM build AS build-demo
COPY emulator ./emulator
RUN /opt/sfsync/bin/pip install --constraint constraints.txt ./emulator

FROM ${PYTHON_IMAGE} AS base
ENV PATH=/opt/sfsync/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 sfsync \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/sfsync sfsync
WORKDIR /home/sfsync
ENTRYPOINT ["sfsync"]
CMD ["--help"]

FROM base AS demo
COPY --from=build-demo /opt/sfsync /opt/sfsync
USER 10001:10001
CMD ["demo"]

# The production image: the last stage, so the default target.
FROM base AS runtime
COPY --from=build /opt/sfsync /opt/sfsync
USER 10001:10001
CMD ["worker"]
