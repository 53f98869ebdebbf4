# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL for the second test run; trust or password auth both work with this URL.
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/gameserver

.PHONY: run test lint typecheck pytest pytest-postgres

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

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

# Lint, type-check, the whole suite on SQLite, then the model and service tests on PostgreSQL.
test: lint typecheck pytest pytest-postgres

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest

pytest-postgres: $(STAMP)
	@if $(PY) -m tests.postgres_available "$(TEST_DATABASE_URL)"; then \
		DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest -m pg; \
	elif [ -n "$$REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL)" >&2; exit 1; \
	else \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): skipped the PostgreSQL run."; \
	fi
