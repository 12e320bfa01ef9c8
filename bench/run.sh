#!/usr/bin/env bash
# Runs the benchmarks in a release build and prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --features ssr --example bench
