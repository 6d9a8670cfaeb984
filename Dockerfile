# gLM Explorer with CUDA-enabled PyTorch.
#   docker build -t glm-explorer .
#   docker run --gpus all -p 8501:8501 -v "$PWD/data:/data" glm-explorer
# Pick the CUDA build that suits your driver with --build-arg TORCH_CUDA=cu126 (or cu130...).
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_CUDA=cu128

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GLM_EXPLORER_DATA=/data \
    GLM_EXPLORER_CACHE=/tmp/glm-explorer-cache

WORKDIR /app

# CUDA torch first, from the PyTorch index, so that installing the project keeps it.
RUN pip install "torch==${TORCH_VERSION}" --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}"

# Dependencies in their own layer; the editable install keeps glm_core next to assets/.
COPY pyproject.toml README.md ./
COPY glm_core ./glm_core
RUN pip install -e .

COPY . .

# The server runs as an unprivileged user; it writes only to the cache and the data mount.
RUN useradd --create-home --uid 10001 explorer \
    && mkdir -p /data /tmp/glm-explorer-cache \
    && chown explorer /data /tmp/glm-explorer-cache
USER explorer

EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
# Inside the container the server must listen beyond localhost for -p to reach it.
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
