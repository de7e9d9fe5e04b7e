# `make demo` and `make test` work on a fresh clone: the first use creates .venv and installs
# the project into it. PYTHON picks the interpreter that builds the venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-all lint bench clean

$(VENV)/.base: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Trains `classify` on the built-in digits (no download) and prints test accuracy and the run
# directory; runs/demo is replaced on every call.
demo: $(VENV)/.base
	@rm -rf runs/demo
	$(VENV)/bin/rnnkit classify train --dataset digits --out runs/demo

# pytest-xdist: one test process per core (at most 4), so the suite takes half the time on 2 cores
test: $(VENV)/.dev
	$(PY) -m pytest -q -n auto --maxprocesses 4

test-all: $(VENV)/.dev
	$(PY) -m pytest -q -n auto --maxprocesses 4 -m ''

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.dev
	$(PY) benchmarks/recurrent.py

clean:
	rm -rf $(VENV) runs .pytest_cache
