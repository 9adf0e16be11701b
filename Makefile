# CareLedger. Every target installs what it needs first (`setup`, idempotent, seconds when done).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export CARELEDGER_HOME := $(CURDIR)
# Hypothesis profile for the suite (fast, fixed seed); `make fuzz` runs the long one.
HYPOTHESIS_PROFILE ?= ci
export HYPOTHESIS_PROFILE

.PHONY: help setup build test test-quick lint format slither demo up down bench soak gasprofile gas-snapshot screenshots fuzz coverage clean

help:
	@echo "make demo   - local devnet, deploy, play the stories, print the report"
	@echo "make test   - lint, static analysis and the whole test suite"
	@echo "make up     - start the devnet (state in .devnet/), deploy, seed, serve the web client"
	@echo "make down   - stop what 'make up' started"
	@echo "make bench  - gas and throughput benchmarks -> bench/results.json, then the soak"
	@echo "make soak   - 50,000 claims settled end to end, memory sampled -> bench/soak.json (Ctrl-C, rerun resumes)"
	@echo "make gasprofile - where the gas of ship/accept/dispense goes (anvil step traces)"
	@echo "make gas-snapshot - rewrite tests/data/gas_snapshot.json (make test fails on a 1% gas regression)"
	@echo "make screenshots - refresh docs/screenshots/ from the browser tests"
	@echo "make coverage - contract line/branch coverage -> docs/coverage.md, docs/coverage.json"
	@echo "make lint   - ruff, mypy --strict, Solidity format check, solhint, ESLint"

setup:
	@tools/setup.sh

# Ape's incremental compile rebuilds a changed file but not the contracts that import it (a
# library or interface edit left dependants stale): when any Solidity source or the compiler
# settings changed since the last build, rebuild everything.
build: setup
	@sources=$$(find contracts -name '*.sol' -not -path 'contracts/.deps/*' | LC_ALL=C sort); \
	digest=$$( (echo $$sources; cat ape-config.yaml $$sources) | sha256sum | cut -c1-64); \
	if [ "$$(cat .build/.sources-digest 2>/dev/null)" != "$$digest" ]; then \
		ape compile --force -v WARNING && echo "$$digest" > .build/.sources-digest; \
	else ape compile -v WARNING; fi

lint: setup
	ruff check careledger tests scripts bench tools
	ruff format --check careledger tests scripts bench tools
	mypy
	prettier --check --log-level warn "contracts/**/*.sol"
	solhint --disc "contracts/**/*.sol"
	eslint frontend/src frontend/tests frontend/*.mjs frontend/vite.config.js tools eslint.config.mjs

format: setup
	ruff format careledger tests scripts bench tools
	ruff check --fix careledger tests scripts bench tools
	prettier --write --log-level warn "contracts/**/*.sol"

slither: build
	.venv/bin/python tools/run_slither.py

test: build lint slither
	tools/setup-browser.sh
	.venv/bin/python tools/postgres.py install || echo "PostgreSQL unavailable: the index's PostgreSQL tests will skip"
	ape test tests -q -p no:cacheprovider

test-quick: build
	ape test tests -q -x -m "not slow and not browser"

demo: build
	.venv/bin/python -m careledger.demo

up: build
	careledger devnet up
	careledger deploy --seed-devnet
	@if [ -f .devnet/relay.pid ] && kill -0 $$(cat .devnet/relay.pid) 2>/dev/null; then echo "relayer already running"; \
	else nohup careledger relay serve > .devnet/relay.log 2>&1 & echo $$! > .devnet/relay.pid; \
	echo "relayer: http://127.0.0.1:8600 (log .devnet/relay.log)"; fi
	frontend/serve.sh start
	@echo "web client: http://127.0.0.1:5173/"

down: setup
	-frontend/serve.sh stop
	-@if [ -f .devnet/relay.pid ]; then kill $$(cat .devnet/relay.pid) 2>/dev/null; rm -f .devnet/relay.pid; echo "relayer stopped"; fi
	careledger devnet down

# The soak (about a minute and a half) runs after the benchmarks even when a budget is over;
# the target fails if either did.
bench: build
	.venv/bin/python -m bench.run; status=$$?; .venv/bin/python -m bench.soak || status=1; exit $$status

# Not part of `make test`. Exits non-zero unless memory stayed flat (definition: bench/soak.py).
soak: build
	.venv/bin/python -m bench.soak

screenshots: build
	tools/setup-browser.sh
	CARELEDGER_SCREENSHOTS=1 ape test tests/frontend -q -p no:cacheprovider

gasprofile: build
	.venv/bin/python -m bench.gasprofile

# The committed per-operation gas that `make test` diffs (1 % tolerance; tests/gas_snapshot.py):
# rewrite it after an intended gas change, and say why in the commit.
gas-snapshot: build
	GAS_SNAPSHOT=update ape test -q -p no:cacheprovider tests/claims/test_gas_budgets.py \
		tests/consent/test_gas_snapshot_consent.py tests/provenance/test_gas_snapshot_provenance.py

# Contract line and branch coverage, traced on py-evm while the suite runs (~3 min, so not part of
# `make test`). Fails when the tests fail or the totals drop below 95% lines / 90% branches.
coverage: build
	.venv/bin/python -m tools.evmcov --check

fuzz: build
	HYPOTHESIS_PROFILE=long ape test tests -q -m "not browser"

clean:
	-@[ ! -d .soak ] || .venv/bin/python -m bench.soak --discard
	rm -rf .build .devnet .pytest_cache .mypy_cache .ruff_cache
