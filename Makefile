# Two entry points for a fresh Debian machine with Python 3.11 (see README.md):
#   make demo   set up and run the product locally with demo keys
#   make test   set up and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js

.PHONY: demo test lint bench system-deps clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

# axe-core for the accessibility audit (tests/e2e/test_accessibility.py), at the pinned version.
$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	npm ci --prefix tests/e2e/axe --ignore-scripts --no-audit --no-fund --silent
	touch $(AXE)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check keys dropbox journalist_console
	$(BIN)/mypy

test: system-deps $(STAMP) $(AXE) lint
	bash scripts/run-pytest.sh $(BIN)/python

bench: system-deps $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/e2e/axe/node_modules
