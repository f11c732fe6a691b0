# The two set-up commands of README.md: `make run` and `make test`. Both work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-services lint help bench bench-tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-run ## run the whole pipeline in one process (embedded; no Kafka needed)
	$(BIN)/siem run all

test-services: $(VENV)/.installed-test ## fetch Kafka, install Alertmanager, build Loki (what the integration tests start)
	scripts/kafka.sh fetch
	scripts/alertmanager.sh install
	scripts/helm.sh install
	command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends prometheus; }
	$(BIN)/python -m tests.loki.loki_service build

test: $(VENV)/.installed-test test-services ## install everything and run the whole test suite
	$(BIN)/pytest

lint: $(VENV)/.installed-test ## check the rules shipped in rules/
	$(BIN)/siem rules lint rules/

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench-tools: ## optional tools of the benchmark: wrk (load generator) and RSigma (peer); without them it says so
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	command -v rsigma >/dev/null || test -x $$HOME/.cargo/bin/rsigma || cargo install --locked rsigma@0.23.0

bench: $(VENV)/.installed-bench test-services ## run every benchmark (~10 min) into benchmarks/results/<date>.md
	$(BIN)/python -m benchmarks
