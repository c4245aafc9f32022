# make run: the demo on embedded defaults.  make test: lint, types and every test on real services.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
RUNTIME_STAMP := $(VENV)/.runtime-$(REQ_HASH)
DEV_STAMP := $(VENV)/.dev-$(REQ_HASH)

.PHONY: install install-dev run test lint typecheck pytest bench system-packages clean

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

$(RUNTIME_STAMP): requirements.txt
	PYTHON=$(PYTHON) scripts/venv.sh $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt
	PYTHON=$(PYTHON) scripts/venv.sh $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

run: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_demo
	PORT=$(PORT) $(PY) manage.py serve

system-packages:
	scripts/system-packages.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy .

# The pytest process keeps the embedded channel layer and eager Celery for ordinary tests; tests
# of the real services read TEST_REDIS_URL and start their own workers and servers on it.
pytest: install-dev
	eval "$$(PY=$(PY) scripts/services.sh)"; \
	  TEST_REDIS_URL="$${REDIS_URL:-}" REDIS_URL= $(PY) -m pytest $(PYTEST_ARGS)

test: install-dev system-packages lint typecheck pytest

bench: install-dev system-packages
	eval "$$(PY=$(PY) scripts/services.sh)"; $(PY) -m bench

clean:
	rm -rf $(VENV) staticfiles .mypy_cache .ruff_cache .pytest_cache tests/artifacts
