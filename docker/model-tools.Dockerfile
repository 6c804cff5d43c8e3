# The model lifecycle's image: the sync Job, the model server's verify-weights init container
# and the rollout's analysis Jobs run our CLIs from components/lifecycle (sync, verify) with
# model-signing==1.1.1, huggingface-hub and the fsspec filesystems of every store (s3fs, gcsfs,
# adlfs), installed from locks/lifecycle.txt only. It verifies the weights every model server
# loads, so every file pip installs must match a hash of the lock.
# .github/workflows/images.yml builds it on a release tag, pushes
# ghcr.io/llm-platform/model-tools:<version> and opens the pull request that pins the catalog
# row `model-tools` to the pushed digest.
#
# The base is the catalog row `python-base` (components/catalog/versions.yaml, where the
# digest is cited); tests/test_images.py holds every FROM here to it.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY locks/lifecycle.txt locks/lifecycle.txt
# --no-deps: nothing the lock does not name (pyOpenSSL is there because model_signing 1.1.1
# imports it without declaring it; locks/lifecycle.in).
RUN pip install --no-cache-dir --require-hashes --no-deps -r locks/lifecycle.txt
# Our code is not installed as a package (that would need the project's build backend, which
# this lock does not carry): `python -m components.lifecycle.<cli>` finds it through
# PYTHONPATH. The package imports nothing else of ours but the refusal detector below
# (tests/test_locks.py).
COPY components/__init__.py /app/components/__init__.py
COPY components/lifecycle /app/components/lifecycle
# The one refusal detector the quality monitor, the gateway and the gate share (stdlib only).
COPY components/quality/__init__.py components/quality/logs.py /app/components/quality/
# Bytecode now: the root filesystem is read-only at run time.
RUN python -m compileall -q /app/components

# The runtime stage gets the virtualenv and the code alone, on the same pinned base.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# HF_HUB_DISABLE_TELEMETRY: the sync Job talks to the Hub for the snapshot only
# (huggingface-hub==2.4.0 constants.py:244). HOME: the one writable place is the pod's emptyDir.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app HOME=/tmp HF_HUB_DISABLE_TELEMETRY=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# The UID the pods' securityContext runs as (components/kubernetes/pods.py RUN_AS).
USER 10001
# No command of its own: each pod names its CLI in full (`python -m components.lifecycle.sync
# ...` in the sync Job, `python -m components.lifecycle.verify ...` in the init container).
