# neurops developer entry points. Every target creates/reuses the virtual environment in
# $(VENV) and installs what it needs; re-running skips what is already done.
# torch is installed FIRST and pinned (a CPU build), so no other package pulls in a CUDA build.

PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: quickstart test test-processes test-all lint docs bench install clean-runs

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(PY)
	$(PIP) install "torch==$(TORCH_VERSION)"
	@touch $@

$(VENV)/.installed-core: pyproject.toml $(VENV)/.torch
	$(PIP) install -e ".[test]"
	@touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-core
	$(PIP) install -e ".[test,bench]"
	@touch $@

$(VENV)/.installed-lint: pyproject.toml $(VENV)/.installed-core
	$(PIP) install -e ".[test,lint]"
	@touch $@

$(VENV)/.installed-docs: pyproject.toml $(VENV)/.installed-core
	$(PIP) install -e ".[docs]"
	@touch $@

install: $(VENV)/.installed-core

## the main job: generate Darcy data, train, evaluate at two resolutions (a few minutes on a CPU)
quickstart: $(VENV)/.installed-core
	$(VENV)/bin/neurops quickstart

## the default test suite (slow tests excluded)
test: $(VENV)/.installed-core
	$(PY) -m pytest -q

## tests that start real processes (DDP/FSDP jobs, a SIGKILLed run resumed); CI runs them after `make test`
test-processes: $(VENV)/.installed-core
	$(PY) -m pytest -q -m processes

## the checks next to the tests: ruff (errors, style, import order) and mypy (types); settings in pyproject.toml
lint: $(VENV)/.installed-lint
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

## everything, including tests marked slow
test-all: $(VENV)/.installed-bench
	$(PY) -m pytest -q -m "slow or not slow or processes"

## documentation site (fails on any warning)
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## the peer of the side-by-side benchmarks (neuraloperator; pyamg, the other peer, is a core dependency)
bench: $(VENV)/.installed-bench
	@echo "benchmark environment ready: $(PY) -m benchmarks list; $(PY) -m benchmarks run NAME --quick"

clean-runs:
	rm -rf runs neurops_quickstart lightning_logs
