#!/usr/bin/env bash
# Hostile-load benchmark (see bench/hostile.rs): builds the release server and the load
# generator, then runs the three scenarios against 127.0.0.1 only. About two minutes of load.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --features ssr --bin gatehouse --example hostile
"$target/release/examples/hostile" "$target/release/gatehouse"
