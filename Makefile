# The two commands of the README: `make run` and `make test`. `make` alone lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL for the second test run; trust or password auth both work with this URL.
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/gameserver

.PHONY: help run test lint typecheck pytest pytest-postgres cluster
.DEFAULT_GOAL := help

# Each "## target: what it does" line below is one line of `make help`.
help:
	@sed -n 's/^## \([a-z-]*\): /  \1\t/p' $(MAKEFILE_LIST) | expand -t 20

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

## run: the game server on http://127.0.0.1:8000 (HOST, PORT), SQLite, DEBUG on
# Start the game server on http://$(HOST):$(PORT) with laptop defaults (SQLite,
# in-memory channel layer, DEBUG on) unless the environment says otherwise.
run: export DEBUG ?= true
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "Game server on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	exec $(PY) -m daphne --bind $(HOST) --port $(PORT) \
		--ping-interval 20 --ping-timeout 30 --application-close-timeout 10 \
		--websocket_timeout 14400 gameproject.asgi:application

## test: lint, type-check and the whole suite (SQLite, then PostgreSQL)
# Lint, type-check, the whole suite on SQLite, then the model and service tests on PostgreSQL.
test: lint typecheck pytest pytest-postgres

## lint: ruff check and ruff format --check
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## typecheck: mypy
typecheck: $(STAMP)
	$(PY) -m mypy

## pytest: the test suite on SQLite
pytest: $(STAMP)
	$(PY) -m pytest

## pytest-postgres: the model and service tests on PostgreSQL (TEST_DATABASE_URL)
pytest-postgres: $(STAMP)
	@if $(PY) -m tests.postgres_available "$(TEST_DATABASE_URL)"; then \
		DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest -m pg; \
	elif [ -n "$$REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL)" >&2; exit 1; \
	else \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): skipped the PostgreSQL run."; \
	fi

## cluster: nginx (TLS) in front of several daphne processes, from deploy/; Ctrl-C stops it
cluster: $(STAMP)
	$(PY) deploy/cluster.py
