# billbridge: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export BILLBRIDGE_HOME ?= $(CURDIR)/.billbridge
export DAGSTER_HOME ?= $(BILLBRIDGE_HOME)/dagster_home

.PHONY: setup browser demo test lint typecheck unit ui sandbox bench fuzz clean

# The virtualenv is rebuilt whenever the lock file or the project metadata changes.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/billbridge demo

test: setup browser lint typecheck
	$(BIN)/pytest -q

# The workbench's browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download is not reachable from here): installed once, only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy pipelines assets resources checks rules sandbox web

unit: setup
	$(BIN)/pytest -q tests/unit

# The UI over the instance `make demo` left on disk; the sandboxes run beside it so
# reruns launched from the UI reach them.
ui: setup
	$(BIN)/billbridge ui

sandbox: setup
	$(BIN)/billbridge sandbox up

bench: setup
	$(PY) -m bench.run $(BENCH_ARGS)

# Exactly-once posting under 1,000 seeded random fault schedules with SIGKILLs (not part of `make test`;
# a few dozen of them are). FUZZ_ARGS="--seed 17" reruns one; "--count 200 --jobs 4" sizes the search.
fuzz: setup
	$(PY) -m bench.posting_fuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .billbridge .pytest_cache .mypy_cache .ruff_cache
