# storyimages: every command a developer needs. `make demo` and `make test` start from nothing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make
export PYTHONPATH := $(CURDIR)/functions:$(CURDIR)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install web browser demo local token openapi synth test lint typecheck unit client integration infrastructure e2e chaos bench load lock clean

help:
	@echo "make demo            illustrate the example stories on the local stack, write out/"
	@echo "make test            lint, type-check and every test suite"
	@echo "make local           run the local stack in the foreground: the page at http://127.0.0.1:$${PORT:-3000}/, the API under /api"
	@echo "make token UID=...   a development ID token from the running local stack"
	@echo "make openapi         regenerate docs/openapi.json from the code"
	@echo "make synth           synthesize the CDK app offline into cdk.out/ (bundles the Lambda asset)"
	@echo "make web             build the TypeScript client and the progress page (clients/)"
	@echo "make unit|client|integration|infrastructure|e2e|chaos   one test suite (CHAOS_LONG=1 for the long fault suite)"
	@echo "make bench           measure orchestration overhead, history events and Firestore commits"
	@echo "make load            50 users start 10-slide stories on the local stack, time scaled by 20: makespan vs its limit"

$(STAMP)/python: requirements/dev.lock
	@mkdir -p $(STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	@touch $@

$(STAMP)/node: package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

install: $(STAMP)/python $(STAMP)/node

# The client package, then the page built on it (static files the local stack serves at /).
WEB_SOURCES := $(shell find clients/typescript/src clients/web/src -type f) clients/web/index.html \
	clients/web/vite.config.ts clients/typescript/tsconfig.json clients/typescript/tsconfig.build.json \
	clients/web/tsconfig.json clients/typescript/package.json clients/web/package.json
$(STAMP)/web: $(STAMP)/node $(WEB_SOURCES)
	npm run --silent --workspace clients/typescript build
	npm run --silent --workspace clients/web build -- --logLevel warn
	@touch $@

web: $(STAMP)/web

# Debian's Chromium for the browser tests, when missing (Playwright never downloads a browser here).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

demo: install $(STAMP)/web
	$(BIN)/python -m local_stack.demo

local: install $(STAMP)/web
	$(BIN)/python -m local_stack

synth: install
	node_modules/.bin/cdk synth --no-notices --quiet

openapi: $(STAMP)/python
	$(BIN)/python -m tools.openapi

token: $(STAMP)/python
	@$(BIN)/python -m local_stack.token $(or $(UID),demo-user)

lint: $(STAMP)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)/python
	$(BIN)/mypy

unit: $(STAMP)/python
	$(BIN)/pytest tests/unit

# The TypeScript client: its types match docs/openapi.json, strict tsc on it and its tests (the
# page's strict tsc runs in its build, on the built client's declarations), Vitest.
client: $(STAMP)/web
	npm run --silent --workspace clients/typescript check:schema
	npm run --silent --workspace clients/typescript typecheck
	npm run --silent --workspace clients/typescript test

integration: install
	$(BIN)/pytest tests/integration

infrastructure: install
	$(BIN)/pytest tests/infrastructure

e2e: install $(STAMP)/web browser
	$(BIN)/pytest tests/e2e

# The fault suite, bounded (CHAOS_LONG=1 for 75 s outages in every phase and more stories);
# -rP prints what each test checked.
chaos: install
	$(BIN)/pytest tests/chaos -rP --show-capture=stdout

test: lint typecheck unit client integration infrastructure e2e chaos

bench: install
	$(BIN)/python bench/orchestration.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/api_probe.py
	$(BIN)/python bench/cost.py
	node bench/client_bundle.mjs

# Many stories at once through the image queue, time scaled by 20 (bench/load.py --help).
load: install
	$(BIN)/python bench/load.py

lock: $(STAMP)/python
	cd requirements && ../$(BIN)/uv pip compile --quiet --universal --python-version 3.11 lambda.in -o lambda.lock
	cd requirements && ../$(BIN)/uv pip compile --quiet --universal --python-version 3.11 dev.in -o dev.lock

clean:
	rm -rf $(VENV) node_modules $(STAMP) out cdk.out .pytest_cache .mypy_cache .ruff_cache clients/*/dist
