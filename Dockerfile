# Backprop Lab for workshops: `docker compose up` (see compose.yaml and docs/api.md).
FROM python:3.11-slim

# Host and port come from BACKPROP_HOST / BACKPROP_PORT (docker run -e BACKPROP_PORT=8001 ... for host networking);
# the health check asks the same port. `backprop-lab serve` defends itself (timeouts, connection cap): no proxy needed.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BACKPROP_HOST=0.0.0.0 \
    BACKPROP_PORT=8000

# Everything that does not depend on the code first, so a code change rebuilds only the last three steps.
RUN useradd --create-home --uid 10001 lab
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BACKPROP_PORT', '8000') + '/healthz', timeout=4).status == 200 else 1)"]
CMD ["backprop-lab", "serve"]

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -q -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The app, installed exactly as `make run` installs it (Makefile: pip install -q -e .). Editable, so the
# package finds templates/, static/ and data/ beside it in /app. .dockerignore lets in only what the app needs.
COPY . ./
RUN pip install -q -e .

USER lab
