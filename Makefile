# pmo — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PMO := $(BIN)/pmo
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: help venv lock check run test test-pg openapi bench bench-stats loadtest browser-deps test-browser screenshots bench-dashboard

help:
	@echo "make run      migrate, seed, (demo data), print one token per role, serve at http://$(HOST):$(PORT)"
	@echo "make test     the test suite on SQLite"
	@echo "make test-pg  the same suite on PostgreSQL ($(PG_URL); started if down)"
	@echo "make check    ruff (lint and format) and mypy, as CI runs them"
	@echo "make lock     re-pin requirements/*.txt after a dependency change (UPGRADE=--upgrade for newer versions)"
	@echo "make openapi  regenerate openapi/openapi.json"
	@echo "make bench    run bench/run.py (reporting benchmarks)"
	@echo "make bench-stats  statistics benchmarks (bench/stats.py; needs wrk)"
	@echo "make loadtest     60 s mixed load against 1 and 2 workers on PostgreSQL (bench/load.py)"
	@echo "make test-browser the dashboards in headless Chromium (installs chromium, chromium-driver, fonts-noto-cjk)"
	@echo "make screenshots  a PNG of each dashboard page (full demo data) in screenshots/"
	@echo "make bench-dashboard  server time of the dashboard pages with the full demo history (bench/dashboard.py)"

venv: $(VENV)/.installed

# Installed from the lock (exact versions, verified hashes); re-installed only when it changes.
$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# After changing dependencies in pyproject.toml: pin them again (runtime for the image, dev for make/CI).
LOCK_FLAGS := --quiet --strip-extras --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links
lock: venv
	$(BIN)/pip-compile $(LOCK_FLAGS) $(UPGRADE) -o requirements/runtime.txt pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) $(UPGRADE) --extra dev -o requirements/dev.txt pyproject.toml

# ruff (lint and format) and mypy ([tool.mypy] in pyproject.toml), as CI runs them.
check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

run: venv
	$(PMO) db upgrade
	$(PMO) seed
	@if $(PMO) demo --help >/dev/null 2>&1; then $(PMO) demo --if-empty; fi
	@set -e; \
	issue() { role=$$1; note=$$2; shift 2; tok=$$($(PMO) tokens issue "$$@"); printf '  %-13s %s  %s\n' "$$role" "$$tok" "$$note"; }; \
	echo; echo "Tokens to try each role (fresh on every run; earlier ones stay valid until they expire):"; \
	issue admin        "demo-admin"                     demo-admin    --role admin; \
	issue helpdesk     "demo-helpdesk"                  demo-helpdesk --role helpdesk; \
	issue viewer       "demo-viewer"                    demo-viewer   --role viewer; \
	issue prefecture   "demo-tokyo: 東京都 130001"      demo-tokyo    --role prefecture   --body 130001; \
	issue municipality "demo-chiyoda: 千代田区 131016"  demo-chiyoda  --role municipality --body 131016; \
	signin() { who=$$1; shift; pw=$$($(PMO) accounts set-password "$$@"); printf '  %-13s %-32s %s\n' "$$who" "$$3" "$$pw"; }; \
	echo; echo "Sign-ins for the pages, http://$(HOST):$(PORT)/login (new passwords on every run):"; \
	signin admin        demo-admin    --email admin@demo.pmo.example; \
	signin helpdesk     demo-helpdesk --email helpdesk@demo.pmo.example; \
	signin viewer       demo-viewer   --email viewer@demo.pmo.example; \
	signin prefecture   demo-tokyo    --email tokyo@demo.pmo.example; \
	signin municipality demo-chiyoda  --email chiyoda@demo.pmo.example; \
	signin 'account admin' demo-chiyoda-admin --email demo-chiyoda-admin@demo.pmo.example; \
	echo "  (admin, helpdesk, prefecture and account administrators set up a second factor at their first sign-in)"; \
	echo; \
	echo "Try:  curl -H 'Authorization: Bearer <token>' http://$(HOST):$(PORT)/api/v1/me"; \
	echo "      curl -H 'Authorization: Bearer <token>' 'http://$(HOST):$(PORT)/api/v1/bodies?prefecture=13&kind=special_ward'"; \
	echo "API docs: http://$(HOST):$(PORT)/docs"
	@echo
	$(PMO) serve --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/pytest

test-pg: venv
	@if ! pg_isready -q -h 127.0.0.1; then \
		echo "PostgreSQL is down; starting it"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done; \
		pg_isready -h 127.0.0.1; \
	fi
	PMO_TEST_DATABASE_URL='$(PG_URL)' $(BIN)/pytest

openapi: venv
	$(PMO) export-openapi

bench: venv
	@if [ -f bench/run.py ]; then $(BIN)/python bench/run.py; else echo "no bench/run.py yet"; fi

bench-stats: venv
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/stats.py

loadtest: venv
	$(BIN)/python bench/load.py --db postgresql --seconds 60

# Headless Chromium for the dashboard test: Debian's packages, installed only when missing (root, or sudo).
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk
AXE_VERSION := 4.14.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && fc-list 2>/dev/null | grep -qi 'noto.*cjk'; then \
		echo "chromium, chromium-driver and fonts-noto-cjk are installed"; \
	else \
		echo "installing $(BROWSER_PACKAGES)"; \
		$(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES); \
	fi
	@# axe-core (npm registry) for the accessibility check in the browser test; a pinned version
	@if [ ! -f var/axe/node_modules/axe-core/axe.min.js ]; then \
		echo "installing axe-core $(AXE_VERSION) into var/axe"; \
		mkdir -p var/axe && npm install --silent --no-audit --no-fund --prefix var/axe axe-core@$(AXE_VERSION); \
	fi

test-browser: venv browser-deps
	PMO_REQUIRE_BROWSER=1 $(BIN)/pytest -m browser

# Full demo data (about 2 minutes to generate), then one full-page PNG per page.
screenshots: venv browser-deps
	PMO_REQUIRE_BROWSER=1 PMO_BROWSER_DEMO=all PMO_SCREENSHOTS=$(CURDIR)/screenshots $(BIN)/pytest -m browser
	@ls screenshots/*.png

bench-dashboard: venv
	$(BIN)/python bench/dashboard.py
