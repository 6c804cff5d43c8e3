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

# The training harness (components/training/, README "Training on spot"): a relocatable
# Python with the same lock and our code, which a training pod's init container copies out of
# this image into an emptyDir, and the trainer container (the job's own image) runs as its
# entrypoint from there: <contract.HARNESS_MOUNT>/bin/python -m components.training.harness.
# The interpreter is python-build-standalone's CPython 3.11.18 (release 20261110,
# install_only_stripped), which needs nothing of the trainer's image but glibc >= 2.17
# (astral-sh/python-build-standalone docs/running.md, "Runtime Requirements"). uv 0.13.8, from
# its own lock, names that build and its sha256 (`uv python list --only-downloads
# --show-urls`) and checks the download against it, so the pin of uv pins the interpreter.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS harness
WORKDIR /src
COPY locks/uv.txt locks/uv.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r locks/uv.txt
ENV UV_PYTHON_INSTALL_DIR=/opt/pbs UV_NO_CONFIG=1
RUN uv python install 3.11.18 --no-bin
COPY locks/lifecycle.txt locks/lifecycle.txt
# --target: into a directory that becomes the interpreter's own site-packages below, so the
# harness needs no PYTHONPATH (which would leak into the trainer's Python).
RUN uv pip install --python 3.11.18 --managed-python --target /opt/harness-site --compile-bytecode --require-hashes --no-deps -r locks/lifecycle.txt
COPY components/__init__.py /opt/harness-site/components/__init__.py
COPY components/training /opt/harness-site/components/training
COPY components/lifecycle /opt/harness-site/components/lifecycle
COPY components/quality/__init__.py components/quality/logs.py /opt/harness-site/components/quality/
# Bytecode now: the pod mounts the harness read-only (3.11.x share one bytecode format).
RUN python -m compileall -q /opt/harness-site/components

# The runtime stage gets the virtualenv and the code alone, on the same pinned base.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The harness at contract.HARNESS_MOUNT: the interpreter's directory (named for the build's
# architecture), its packages and our code as site-packages, and bin/python.
COPY --from=harness /opt/pbs/cpython-3.11.18-linux-*/ /opt/llm-platform/
COPY --from=harness /opt/harness-site/ /opt/llm-platform/lib/python3.11/site-packages/
RUN ln -sf python3.11 /opt/llm-platform/bin/python
# HF_HUB_DISABLE_TELEMETRY: the sync Job talks to the Hub for the snapshot only
# (huggingface-hub==2.4.0 constants.py:244). HOME: the one writable place is the pod's emptyDir.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app HOME=/tmp HF_HUB_DISABLE_TELEMETRY=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# The UID the pods' securityContext runs as (components/kubernetes/pods.py RUN_AS).
USER 10001
# No command of its own: each pod names its CLI in full (`python -m components.lifecycle.sync
# ...` in the sync Job, `python -m components.lifecycle.verify ...` in the init container,
# `cp -a /opt/llm-platform/. <dir>` in a training pod's init container).
