# Gatehouse: `make run` serves the app, `make test` runs every check. Both install what is
# missing first (wasm target, cargo-leptos, wasm-bindgen-cli, Chromium, npm packages).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Builds are slow on small machines: keep one cache outside the clone.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gatehouse-target

CARGO_LEPTOS_VERSION := 0.3.10
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM ?= /usr/bin/chromium
# wasm-opt for release builds: Debian's is too old, npm's binaryen is current.
RELEASE_TOOLS := $(HOME)/.cache/gatehouse-tools
BINARYEN_VERSION := 132

.PHONY: help tools release-tools browser e2e-deps bench-deps fuzz-deps postgres-deps nodes-deps nodes run watch build release release-smoke lint unit unit-postgres e2e fuzz bench bench-detail bench-hostile test clean

help:
	@echo "make run    install what is missing, build optimised, serve on http://127.0.0.1:3000"
	@echo "make test   install what is missing, run fmt, clippy, Rust tests (SQLite and PostgreSQL), API fuzzing and Playwright"
	@echo "make watch  rebuild and reload on change (cargo leptos watch)"
	@echo "make release  optimised build with hashed, precompressed files, packaged in dist/gatehouse"
	@echo "make bench  one table: pages, API, logins and memory against a bare axum server"
	@echo "make bench-detail  session-check cost, large lists, admin search (in-process)"
	@echo "make bench-hostile  memory and latency under hostile load (see bench/README.md)"

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
		|| rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)" \
		|| cargo install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked --features no_downloads
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

release-tools: tools
	@[ -x $(RELEASE_TOOLS)/node_modules/.bin/wasm-opt ] \
		|| npm install --prefix $(RELEASE_TOOLS) --no-audit --no-fund binaryen@$(BINARYEN_VERSION)

browser:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

e2e-deps:
	@[ -d end2end/node_modules/openid-client ] || (cd end2end && npm ci --no-audit --no-fund)
	@{ [ -x .venv/bin/aiosmtpd ] && .venv/bin/python -c 'import authlib' 2>/dev/null; } \
		|| { python3 -m venv .venv && .venv/bin/pip install --quiet -r end2end/requirements-mail.txt; }

postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y postgresql; }

nodes-deps: postgres-deps
	@command -v nginx >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nginx-light || $(SUDO) apt-get install -y nginx; }

bench-deps:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }

fuzz-deps:
	@[ -x .venv/bin/schemathesis ] || { python3 -m venv .venv && .venv/bin/pip install --quiet -r bench/requirements-fuzz.txt; }

# The optimised build (see `release`), served from dist/ with the settings in .env: hashed,
# precompressed and cached files. `make watch` is the development loop.
run: release
	LEPTOS_SITE_ROOT=dist/gatehouse/site LEPTOS_SITE_ADDR=$${LEPTOS_SITE_ADDR:-127.0.0.1:3000} \
		LEPTOS_OUTPUT_NAME=gatehouse LEPTOS_HASH_FILES=true LEPTOS_ENV=PROD dist/gatehouse/gatehouse

watch: tools
	cargo leptos watch

build: tools
	cargo leptos build

# Release: optimised server and wasm (wasm-opt), file names with content hashes, .br/.gz
# copies of every built file, collected in dist/gatehouse (see README "Deploying").
release: release-tools
	@started=$$(date +%s); \
	PATH="$(RELEASE_TOOLS)/node_modules/.bin:$$PATH" LEPTOS_HASH_FILES=true \
		LEPTOS_SITE_ROOT=target/release-site cargo leptos build --release --precompress \
	&& deploy/package.sh dist/gatehouse \
	&& echo "make release took $$(( $$(date +%s) - started )) s"

# Starts the packaged release the way deploy/gatehouse.service does and logs in with a browser.
release-smoke: release browser e2e-deps
	CHROMIUM_PATH=$(CHROMIUM) deploy/smoke.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test --features ssr

# The same integration tests against a throwaway PostgreSQL (tests/postgres.sh).
unit-postgres: postgres-deps
	tests/postgres.sh cargo test --features ssr --test it

# Two nodes on one throwaway PostgreSQL behind nginx (tests/nodes.py, SPEC §10).
nodes: build nodes-deps e2e-deps
	tests/postgres.sh python3 tests/nodes.py

e2e: build browser e2e-deps
	cd end2end && CHROMIUM_PATH=$(CHROMIUM) npx playwright test

fuzz: build fuzz-deps
	bench/fuzz-api.sh

# One table: Gatehouse (packaged release) against a bare axum hello page, memory after floods,
# the wasm size; then SQLite vs PostgreSQL vs two nodes behind nginx (see bench/README.md).
bench: release bench-deps nodes-deps
	cargo build --release --features ssr --example table --example hello
	tests/postgres.sh $(CARGO_TARGET_DIR)/release/examples/table dist/gatehouse/gatehouse \
		$(CARGO_TARGET_DIR)/release/examples/hello dist/gatehouse/site

# The detailed in-process benchmarks: session-check cost, large lists, admin search.
bench-detail: build
	bench/run.sh

bench-hostile:
	bench/hostile.sh

test: tools
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) unit-postgres
	$(MAKE) e2e
	$(MAKE) nodes
	$(MAKE) fuzz
	$(MAKE) release-smoke

clean:
	rm -rf target/site target/release-site dist data
