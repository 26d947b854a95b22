# OpsGuard commands. `make run` starts the product, `make test` checks it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Tests run against real servers; override these to point elsewhere. Each
# run creates its own test database (test_opsguard_<pid>), queue and data
# folder, so two runs on the same servers do not disturb each other.
RUN_ID := $(shell echo $$$$)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/opsguard_$(RUN_ID)
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
# `manage.py check` connects to a database that exists.
CHECK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run test lint typecheck check install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap
	$(BIN)/python manage.py runall

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy .

check: install-dev
	DATABASE_URL=$(CHECK_DATABASE_URL) $(BIN)/python manage.py check --fail-level WARNING
	DATABASE_URL=$(CHECK_DATABASE_URL) $(BIN)/python manage.py makemigrations --check --dry-run

test: lint typecheck check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		CELERY_QUEUE=opsguard-test-$(RUN_ID) OPSGUARD_DATA_DIR=$(CURDIR)/var/test-$(RUN_ID) \
		$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
