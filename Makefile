# Backprop Lab. `make run` serves the app; `make test` runs lint and every test.
# The Dockerfile runs the same install step as `make run` (`pip install -e .`); tests/test_docker.py checks it.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench stress mutate install install-dev clean

$(BIN)/python:
	@$(PY) -c "import sys; assert sys.version_info >= (3, 11), sys.version" || { echo "need Python >= 3.11 (set PY=...)"; exit 1; }
	$(PY) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/backprop-lab serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check app tests benchmarks stress mutation

# TEST_WORKERS pytest-xdist workers (4 on the 2-core machine: the tests wait on pages, servers and deadlines
# much of the time, and two more workers fill those waits: 4 min 32 s with 4, 4 min 58 s with 3, 6 min 15 s with
# 2; docs/testing.md); browsers, servers and session-wide artifacts are grouped (tests/conftest.py).
# Bytecode caches on even where the environment turns them off (PYTHONDONTWRITEBYTECODE): otherwise every Python
# process the run starts (servers, engine forkservers, CLI runs) compiles app/ again and each worker rewrites every
# test module (measured outside tests/browser: 253 s of CPU instead of 264 s).
TEST_WORKERS ?= 4
test: install-dev
	$(BIN)/ruff check app tests benchmarks stress mutation
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

bench: install-dev
	$(BIN)/python -m benchmarks

# the full load, failover and fuzz figures (docs/reliability.md); `make test` runs short versions
stress: install-dev
	$(BIN)/python -m stress
	BACKPROP_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest -q tests/fuzz

# mutation testing of app/engine/*.py and the body-limit middleware (docs/testing.md): slow, niced, resumable;
# not part of `make test`. MUTATE="ops numeric" limits it to those modules, MUTATE_JOBS=2 runs two at a time.
mutate: install-dev
	$(BIN)/python -m mutation $(MUTATE) --survivors

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .mutation
