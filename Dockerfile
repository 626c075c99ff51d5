# Backprop Lab for workshops: `docker compose up` (see compose.yaml and docs/api.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -q -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The app, installed exactly as `make run` installs it (Makefile: pip install -q -e .). Editable, so
# the package finds templates/, static/ and data/ beside it in /app.
COPY README.md ./
COPY app ./app
COPY data ./data
COPY templates ./templates
COPY static ./static
RUN pip install -q -e .

RUN useradd --create-home --uid 10001 lab
USER lab

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["backprop-lab", "serve", "--host", "0.0.0.0", "--port", "8000"]
