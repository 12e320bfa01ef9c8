#!/usr/bin/env bash
# Follows the README's "Deploying" steps with the packaged release build: copies dist/gatehouse
# to a fresh prefix, starts it with the settings of deploy/gatehouse.service (paths moved under
# the prefix, plain HTTP on a local port instead of the public https:// address), waits for
# /ready, runs the Playwright smoke test against it, then stops it with SIGTERM and checks that
# it stopped cleanly.
# Usage: deploy/smoke.sh [PORT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:-3200}"
dist="$root/dist/gatehouse"
[ -x "$dist/gatehouse" ] || { echo "smoke.sh: $dist is missing; run make release" >&2; exit 1; }
prefix="$(mktemp -d -t gatehouse-release-XXXXXX)"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$prefix"
}
trap cleanup EXIT
cp -r "$dist" "$prefix/opt"
mkdir -p "$prefix/data"

# The unit's Environment= lines, with its paths moved under the prefix.
settings=()
while IFS= read -r line; do
  value="${line#Environment=}"
  value="${value//\/opt\/gatehouse/$prefix/opt}"
  value="${value//\/var\/lib\/gatehouse/$prefix/data}"
  settings+=("$value")
done < <(grep '^Environment=' "$root/deploy/gatehouse.service")
settings+=(
  "LEPTOS_SITE_ADDR=127.0.0.1:$port"
  "PUBLIC_URL=http://localhost:$port"
  "METRICS_ADDR=127.0.0.1:$((port + 1))"
)

cd "$prefix/opt"
env -i PATH="$PATH" HOME="$prefix" "${settings[@]}" ./gatehouse >"$prefix/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$prefix/log"; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/ready"; echo

wasm="$(ls site/pkg/*.wasm)"
echo "release wasm: $(stat -c %s "$wasm") bytes raw, $(stat -c %s "$wasm.gz") gzipped, $(stat -c %s "$wasm.br") brotli"

(cd "$root/end2end" && RELEASE_URL="http://localhost:$port" \
  npx playwright test --config release.config.ts)

curl -fsS "http://127.0.0.1:$((port + 1))/metrics" | grep -q 'gatehouse_logins_total{outcome="succeeded"} 1' \
  || { echo "smoke.sh: /metrics did not count the login" >&2; exit 1; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
grep -q '"message":"stopped"' "$prefix/log" || { cat "$prefix/log"; echo "smoke.sh: no clean stop" >&2; exit 1; }
[ "$status" = 0 ] || { echo "smoke.sh: exit status $status after SIGTERM" >&2; exit 1; }
if grep -q 'violet tundra kettle' "$prefix/log"; then
  echo "smoke.sh: a password reached the log" >&2; exit 1
fi
echo "release smoke test passed: started from the copied files, logged in, stopped cleanly"
