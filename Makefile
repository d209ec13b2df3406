# Everything the project needs installs from its own files: `make install` is idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NPM_DIR := devnet-deps
NPM_STAMP := $(NPM_DIR)/node_modules/.delever-installed
PY_STAMP := $(VENV)/.delever-installed
PYTEST_ARGS ?=

.PHONY: install test test-fast test-slow bench demo lint clean

install: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $@

$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	# `npm ci` rejects the anvil wrapper's per-platform optional deps; versions are exact in both files.
	cd $(NPM_DIR) && npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

# Unit, property and integration tests (real anvil + Aave + exchange emulator on loopback);
# -rs names every skipped test's reason (the browser tests where no Chromium is installed).
test: lint
	$(PY) -m pytest -q -rs -m "not slow" -n 2 --dist loadscope $(PYTEST_ARGS)

# Pure tests only: no chain, no emulator.
test-fast: install
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

# Long suites (kill -9 at every step boundary, long unwinds); CI runs them too.
test-slow: install
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS); rc=$$?; [ $$rc = 0 ] || [ $$rc = 5 ]

# Lint, format check and types (mypy strict on bot/domain, bot/engine, strategies; see pyproject.toml).
lint: install
	$(VENV)/bin/ruff check bot strategies tests
	$(VENV)/bin/ruff format --check bot strategies tests
	$(VENV)/bin/mypy

bench: install
	$(PY) -m pytest -q tests/benchmarks --benchmark-enable --benchmark-only $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/delever demo

clean:
	rm -rf $(VENV) $(NPM_DIR)/node_modules .pytest_cache .hypothesis .benchmarks
