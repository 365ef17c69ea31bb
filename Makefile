# Two commands for a newcomer: `make run` starts everything, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: run test lint typecheck unit bench fmt messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[devstack]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/caseflow dev

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check caseflow tests benchmarks
	$(BIN)/ruff format --check caseflow tests benchmarks

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

unit: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/unit

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks

fmt: $(VENV)/.dev-installed
	$(BIN)/ruff format caseflow tests benchmarks
	$(BIN)/ruff check --fix caseflow tests benchmarks

# The customers' languages: extract the marked messages, update caseflow/locale/*/caseflow.po.
messages: $(VENV)/.dev-installed
	$(BIN)/python -m caseflow.i18n

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
