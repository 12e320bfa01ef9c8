#!/usr/bin/env bash
# Schema-driven fuzzing of the JSON API with Schemathesis: every operation in
# /api/v1/openapi.json gets generated valid and invalid requests; the run fails on any 5xx
# or any response that contradicts the document (status, headers, content type, body schema).
# Usage: bench/fuzz-api.sh [max examples per operation, default 40]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
examples="${1:-40}"
port=3200
base="http://127.0.0.1:$port"
data="$(mktemp -d -t gatehouse-fuzz-XXXXXX)"
log="$data/server.log"

DATA_DIR="$data" LEPTOS_SITE_ADDR="127.0.0.1:$port" PUBLIC_URL="$base" \
  LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_OUTPUT_NAME=gatehouse RUST_LOG=warn \
  "$target/debug/gatehouse" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do
  curl -fs "$base/health" >/dev/null && break
  sleep 0.5
done
curl -fs "$base/health" >/dev/null || { echo "server did not start"; cat "$log"; exit 1; }

# A member whose Bearer token the fuzzer uses for protected operations.
curl -fs -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"violet tundra kettle 42"}' >/dev/null
token=$(curl -fs -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"violet tundra kettle 42"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
run() {
  "$root/.venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --checks "$checks" --max-examples "$examples" --seed 20261121 --workers 2 \
    --request-timeout 10 --no-color --generation-database none \
    -H "Authorization: Bearer $token" "$@"
}
# Logging out and ending sessions end the fuzzer's own session, so they run last.
run --exclude-path /api/v1/auth/logout --exclude-path '/api/v1/sessions/{id}'
run --include-path '/api/v1/sessions/{id}'
run --include-path /api/v1/auth/logout

if grep -E "panicked|ERROR" "$log"; then
  echo "the server logged errors during fuzzing (above)"
  exit 1
fi
echo "fuzzing found no server errors and no schema violations"
