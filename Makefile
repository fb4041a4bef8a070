# mlmm: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv demo test lab panel bench lint clean

help:
	@echo "make demo   set up .venv, build the demo workspace in data/workspace"
	@echo "make test   set up .venv, run unit tests, doctests and notebooks"
	@echo "make lab    open JupyterLab on notebooks/ with the demo workspace"
	@echo "make panel  serve the A/B decision panel (notebooks/ab_decision_panel.ipynb) with Voila"
	@echo "make bench  run the benchmarks in bench/ against the peers"
	@echo "make lint   ruff over mlmm/ tests/ bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

venv: $(STAMP)

REPORT_MODELS := waf-behavioral queue-anomaly n1-detector

demo: $(STAMP)
	$(BIN)/mlmm demo --workspace data/workspace --force
	@for m in $(REPORT_MODELS); do \
	  $(BIN)/mlmm report run monitoring_report -p model $$m -w data/workspace || exit 1; done
	@$(BIN)/mlmm report run drift_report -p model queue-anomaly -p current 72h -w data/workspace
	@$(BIN)/mlmm report run ab_test_report -p test_id ab-n1-challenger-75 -w data/workspace
	@$(BIN)/mlmm report run tuning_report -p model queue-anomaly -w data/workspace
	@$(BIN)/mlmm report run registry_overview -w data/workspace
	@echo "open reports/index.html: every report with its decision"

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs --nbval-lax --durations=10

lab: $(STAMP)
	@test -f data/workspace/registry.duckdb || $(BIN)/mlmm demo --workspace data/workspace
	MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/jupyter lab notebooks/ $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

PANEL_PORT ?= 8866

panel: $(STAMP)
	@test -f data/workspace/registry.duckdb || $(BIN)/mlmm demo --workspace data/workspace
	MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/voila notebooks/ab_decision_panel.ipynb --Voila.ip=127.0.0.1 \
	  --port=$(PANEL_PORT) --no-browser

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@

EVIDENTLY_STAMP := .venv-evidently/.installed

# Evidently (a peer in the drift benchmark) needs pandas < 3: it gets its own environment
$(EVIDENTLY_STAMP):
	$(PYTHON) -m venv .venv-evidently
	.venv-evidently/bin/python -m pip install -q evidently 'pandas<3' pyarrow
	@touch $@

bench: $(BENCH_STAMP)
	@$(MAKE) --no-print-directory $(EVIDENTLY_STAMP) || echo "Evidently venv not created: the drift area runs without it"
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check mlmm tests bench

clean:
	rm -rf $(VENV) .venv-evidently data/workspace reports/20* reports/index.html
