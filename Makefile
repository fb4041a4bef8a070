# mlmm: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv demo test lab bench lint clean

help:
	@echo "make demo   set up .venv, build the demo workspace in data/workspace"
	@echo "make test   set up .venv, run unit tests, doctests and notebooks"
	@echo "make lab    open JupyterLab on notebooks/ with the demo workspace"
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
	@mkdir -p reports
	@for m in $(REPORT_MODELS); do \
	  MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/papermill --no-progress-bar --cwd notebooks notebooks/monitoring_report.ipynb \
	    reports/monitoring_report-$$m.ipynb -p model $$m -p trend 14d 2> reports/.papermill.log \
	    || { cat reports/.papermill.log; exit 1; }; \
	  echo "report: reports/monitoring_report-$$m.ipynb"; \
	done
	@MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/papermill --no-progress-bar --cwd notebooks notebooks/drift_report.ipynb \
	  reports/drift_report-queue-anomaly.ipynb -p model queue-anomaly -p current last=72h 2> reports/.papermill.log \
	  || { cat reports/.papermill.log; exit 1; }
	@echo "report: reports/drift_report-queue-anomaly.ipynb"
	@MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/papermill --no-progress-bar --cwd notebooks notebooks/ab_test_report.ipynb \
	  reports/ab_test_report-ab-n1-challenger-75.ipynb -p test_id ab-n1-challenger-75 2> reports/.papermill.log \
	  || { cat reports/.papermill.log; exit 1; }
	@echo "report: reports/ab_test_report-ab-n1-challenger-75.ipynb"
	@$(BIN)/jupyter nbconvert --log-level WARN --to html reports/monitoring_report-*.ipynb reports/drift_report-*.ipynb \
	  reports/ab_test_report-*.ipynb
	@echo "open reports/monitoring_report-waf-behavioral.html in a browser, or run: make lab"

test: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax

lab: $(STAMP)
	@test -f data/workspace/registry.duckdb || $(BIN)/mlmm demo --workspace data/workspace
	MLMM_HOME=$(CURDIR)/data/workspace $(BIN)/jupyter lab notebooks/

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
	rm -rf $(VENV) .venv-evidently data/workspace reports/20* reports/monitoring_report-* reports/drift_report-* reports/ab_test_report-*
