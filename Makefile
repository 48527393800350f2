# The two commands: `make demo` and `make test`. Both install what they need (uv, then .venv
# from the committed uv.lock) on a machine that has only Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export SCARF_ANALYTICS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False

.PHONY: demo test bench bench-targets fuzz airflow lint browser venv clean

venv: $(STAMP)

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet uv

# Bytecode compiled once at install: otherwise a process that cannot write __pycache__ (read-only
# venv, PYTHONDONTWRITEBYTECODE) compiles GX, Splink, Polars... on every start (about 6 s of CPU).
$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

demo: venv
	$(BIN)/autoclear demo --workdir $(CURDIR)/work

test: venv browser
	$(BIN)/pytest

bench: venv
	$(BIN)/python -m bench

# The cases a target is about, at the target's scale, three runs each (about 10 minutes).
bench-targets: venv
	TARGETS=1 $(BIN)/python -m bench

fuzz: venv
	$(BIN)/python -m tests.fuzz.run --seconds $${FUZZ_SECONDS:-300}

airflow: venv
	$(BIN)/python scripts/airflow_standalone.py

lint: venv
	$(BIN)/ruff check .

# The dashboard test drives Debian's headless Chromium; install it where missing (needs root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "note: could not install chromium; the browser test will skip"; \
	  else echo "note: chromium missing and not root; the browser test will skip"; fi; }

clean:
	rm -rf work .airflow .pytest_cache
