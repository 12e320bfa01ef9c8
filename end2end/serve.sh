#!/usr/bin/env bash
# Starts the built server on its own fresh database for the end-to-end tests.
# Usage: serve.sh PORT [NAME=VALUE ...]
set -euo pipefail
port="$1"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
data="$(mktemp -d -t gatehouse-e2e-XXXXXX)"
trap 'rm -rf "$data"' EXIT
env \
  DATA_DIR="$data" \
  LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  PUBLIC_URL="http://127.0.0.1:$port" \
  LEPTOS_SITE_ROOT="$root/target/site" \
  LEPTOS_OUTPUT_NAME=gatehouse \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$@" \
  "$target/debug/gatehouse"
