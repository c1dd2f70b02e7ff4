# lanjie: two commands matter. `make demo` starts everything; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: demo test test-sqlite test-postgres lint bench install clean

$(BIN)/activate: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(BIN)/activate

install: $(BIN)/activate

## Start the demo: API + console + worker + sandbox carriers on SQLite, with a demo shop.
demo: install
	$(BIN)/lanjie demo --host $(HOST) --port $(PORT)

## Run the whole suite: lint, then SQLite, then PostgreSQL when it is reachable.
test: install lint test-sqlite test-postgres

lint:
	$(BIN)/ruff check src tests bench

test-sqlite:
	LANJIE_TEST_DATABASE=sqlite $(BIN)/pytest

# Runs when PostgreSQL at PG_URL answers (the tests make their own database beside PG_URL's, through `postgres`); with LANJIE_REQUIRE_POSTGRES=1 (CI) an unreachable server is a failure.
test-postgres:
	@if $(BIN)/python -c "import sys, psycopg; psycopg.connect(sys.argv[1].replace('+psycopg', '').rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" "$(PG_URL)" 2>/dev/null; then \
		LANJIE_TEST_DATABASE=$(PG_URL) $(BIN)/pytest; \
	elif [ "$$LANJIE_REQUIRE_POSTGRES" = 1 ]; then echo "PostgreSQL not reachable at $(PG_URL)" >&2; exit 1; \
	else echo "PostgreSQL not reachable at $(PG_URL): PostgreSQL run skipped"; fi

bench: install
	$(BIN)/python bench/intercept_latency.py

clean:
	rm -rf $(VENV) data .pytest_cache
