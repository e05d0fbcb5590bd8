# Attune: `make demo` runs a closed-loop session on the simulated listener,
# `make test` runs lint and the test suite. Both create .venv and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/attune demo

test: $(STAMP)
	$(BIN)/ruff check engine sensors synthesis sessions tests benchmarks
	$(BIN)/ruff format --check engine sensors synthesis sessions tests benchmarks
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2
	.ci/wheel-check.sh

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m slow

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache
