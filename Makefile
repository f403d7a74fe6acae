# One set of commands for both runtimes (docker where a Docker engine answers, local otherwise).
# Every target bootstraps the virtualenv first, so a fresh clone needs nothing but `make start-all`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
MANAGE := $(PY) manage.py

.DEFAULT_GOAL := help
.PHONY: help bootstrap build up down restart ps logs logs-kafka logs-producer logs-consumers topics migrate \
        seed start-all start-producer stop-producer start-consumers stop-consumers status verify \
        test lint benchmark-kafka benchmark-realtime benchmark-producer benchmark-sink chaos dlq-replay clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

# Debian/Ubuntu ship Python without its venv module: installed with apt-get when root, else named.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >/dev/null 2>&1 || { rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "bootstrap: installing python3-venv with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "bootstrap: Python's venv module is missing: run 'sudo apt-get install -y python3-venv'"; exit 1; fi; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "bootstrap: installing the project into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@$(PY) -m pip install -q -e ".[dev]" >> $(VENV)/install.log 2>&1 || { tail -30 $(VENV)/install.log; exit 1; }
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

bootstrap: $(STAMP) ## Create the virtualenv and install the project (every target does this first)

build: $(STAMP) ## Build the image (docker runtime); nothing to build locally
	@if $(PY) -c "from apps.runtime.detect import *; from common.settings import *; import sys; sys.exit(choose_runtime(RuntimeSettings()) != 'docker')"; then ./dc.sh build; else echo "local runtime: nothing to build"; fi

up: $(STAMP) ## Start Kafka (3 brokers, KRaft) and PostgreSQL, migrate, create topics
	@$(MANAGE) up

down: $(STAMP) ## Stop every service
	@$(MANAGE) down

restart: down up ## down, then up

ps: $(STAMP) ## Show services and their state
	@$(MANAGE) ps

logs: $(STAMP) ## Follow every service's log
	@$(MANAGE) logs

logs-kafka: $(STAMP) ## Follow the brokers' logs
	@$(MANAGE) logs kafka

logs-producer: $(STAMP) ## Follow the realtime generator's log
	@$(MANAGE) logs producer

logs-consumers: $(STAMP) ## Follow the nine consumers' logs
	@$(MANAGE) logs consumers

topics: $(STAMP) ## Create missing topics, report config drift
	@$(MANAGE) topics

migrate: $(STAMP) ## Apply database migrations
	@$(MANAGE) migrate

seed: $(STAMP) ## Publish the initial users and products
	@$(MANAGE) seed

start-all: $(STAMP) ## Everything: services, topics, seed, consumers, producer, console
	@$(MANAGE) start-all

start-producer: $(STAMP) ## Start the realtime generator
	@$(MANAGE) start-producer

stop-producer: $(STAMP) ## Stop the realtime generator
	@$(MANAGE) stop-producer

start-consumers: $(STAMP) ## Start the nine consumers
	@$(MANAGE) start-consumers

stop-consumers: $(STAMP) ## Stop the nine consumers
	@$(MANAGE) stop-consumers

status: $(STAMP) ## Brokers, topics, lag, rows, dead letters
	@$(MANAGE) status

verify: $(STAMP) ## Reconcile Kafka with PostgreSQL
	@$(MANAGE) verify

test: $(STAMP) ## Run the test suite (starts its own Kafka and PostgreSQL)
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

benchmark-kafka: $(STAMP) ## Kafka ON vs OFF, CSV and chart in reports/ (ARGS=--short for a quick run)
	@$(MANAGE) benchmark kafka $(ARGS)

benchmark-realtime: $(STAMP) ## Realtime rates, latency and lag over time, ON vs OFF
	@$(MANAGE) benchmark realtime $(ARGS)

benchmark-producer: $(STAMP) ## Producer wrapper vs raw confluent-kafka
	@$(MANAGE) benchmark producer $(ARGS)

benchmark-sink: $(STAMP) ## Consumer sink rows/s vs raw COPY
	@$(MANAGE) benchmark sink $(ARGS)

chaos: $(STAMP) ## Fault scenario under load: make chaos SCENARIO=broker-kill (or all)
	@$(MANAGE) chaos $(or $(SCENARIO),all) $(CHAOS_ARGS)

dlq-replay: $(STAMP) ## Re-publish dead letters: make dlq-replay TOPIC=orders
	@test -n "$(TOPIC)" || { echo "usage: make dlq-replay TOPIC=users|products|orders"; exit 2; }
	@$(MANAGE) dlq-replay --topic $(TOPIC)

clean: $(STAMP) ## Stop everything and remove all data
	@$(MANAGE) clean
