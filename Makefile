# Attune: `make demo` runs a closed-loop session on the simulated listener,
# `make test` runs lint and the test suite. Both create .venv and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $(STAMP)

# The browser tests drive Debian's Chromium (no browser download); CI runs as root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q chromium >/dev/null; } \
	  || { echo "make: the browser tests need Debian's chromium (apt-get install chromium)"; exit 1; }

demo: $(STAMP)
	$(BIN)/attune demo

test: $(STAMP) browser
	$(BIN)/ruff check engine sensors synthesis sessions tests benchmarks
	$(BIN)/ruff format --check engine sensors synthesis sessions tests benchmarks
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile
	.ci/wheel-check.sh

test-slow: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 -m slow

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache
