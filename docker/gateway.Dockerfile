# The gateway's image: the LiteLLM proxy (litellm[proxy]==1.106.12) and our runtime in it
# (components/gateway: custom_auth, callbacks, provisioning), installed from
# locks/gateway.txt only. LiteLLM 1.82.7 and 1.82.8 on PyPI were compromised (MAL-2026-2144)
# and this image holds every key, so every file pip installs must match a hash of the lock.
# .github/workflows/images.yml builds it on a release tag, pushes
# ghcr.io/llm-platform/gateway:<version> and opens the pull request that pins the catalog
# row `gateway` to the pushed digest.
#
# The base is the catalog row `python-base` (components/catalog/versions.yaml, where the
# digest is cited); tests/test_images.py holds every FROM here to it.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY locks/gateway.txt locks/gateway.txt
# --no-deps: nothing the lock does not name. No Prisma: keys live in our own tables, read
# with psycopg (components/gateway/store.py), so nothing is fetched at run time either.
RUN pip install --no-cache-dir --require-hashes --no-deps -r locks/gateway.txt
# Our code is not installed as a package (that would need the project's build backend, which
# this lock does not carry): the modules LiteLLM imports by name from its config
# (components.gateway.auth.user_api_key_auth, components.gateway.callbacks.handler) and the
# provisioning Job's `python -m components.gateway.provision` are found through PYTHONPATH.
# The quality monitor's log reader comes along: the callback counts refusals with it.
COPY components/__init__.py /app/components/__init__.py
COPY components/gateway /app/components/gateway
COPY components/quality /app/components/quality
# The eval gate's scorers (stdlib and jsonschema, which this lock holds): shadow traffic
# (components/gateway/shadow.py) scores the candidate with them.
COPY components/lifecycle/__init__.py /app/components/lifecycle/__init__.py
COPY components/lifecycle/scorers.py /app/components/lifecycle/scorers.py
# Bytecode now: the root filesystem is read-only at run time.
RUN python -m compileall -q /app/components

# The runtime stage gets the virtualenv and the code alone, on the same pinned base.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# LITELLM_LOCAL_MODEL_COST_MAP: the cost map from the wheel, never fetched from GitHub at
# import (litellm==1.106.12 litellm_core_utils/get_model_cost_map.py:383,646); the
# Deployment sets it and the other offline switches too.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app HOME=/tmp LITELLM_LOCAL_MODEL_COST_MAP=True \
    DISABLE_TELEMETRY=True PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# The UID the pods' securityContext runs as (components/kubernetes/pods.py RUN_AS).
USER 10001
EXPOSE 4000
# The Deployment's command (components/kubernetes/gateway/deployment.py; the provisioning
# Job runs `python -m components.gateway.provision ...` instead). Flags: litellm==1.106.12
# proxy/proxy_cli.py:741-750,816-820.
CMD ["litellm", "--config", "/etc/llm-gateway/config.yaml", "--host", "0.0.0.0", "--port", "4000", "--num_workers", "1"]
