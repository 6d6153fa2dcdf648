# Lease Desk: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements-dev.lock
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast lint format typecheck check lock migrate demo clean e2e-deps

# The virtualenv is rebuilt whenever the lock file changes.
$(BIN)/.installed: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	@touch $@

venv: $(BIN)/.installed

migrate: venv
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py seed_demo --if-empty --base-url http://$(HOST):$(PORT)

run: demo
	$(BIN)/python manage.py demo_logins --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv
	$(BIN)/mypy leasing tests bench

check: lint typecheck test

# Regenerate the hash-pinned lock files after editing pyproject.toml (needs `uv`).
lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache staticfiles
