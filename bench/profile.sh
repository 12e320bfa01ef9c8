#!/usr/bin/env bash
# Where a request's server time goes: runs the release server under `perf record` (the
# `task-clock` software event, which works in virtual machines without hardware counters),
# loads one path with `wrk` for a few seconds (one thread, 32 keep-alive connections), then
# prints the hottest functions by self time and the share of samples charged to each part of
# the stack (bench/stages.py; call graphs unwound with DWARF).
# PERF_DATA=FILE keeps the recording for `perf report -i FILE`.
#
# Usage: bench/profile.sh PATH [cookie|bearer|none] [SECONDS]
#   e.g. bench/profile.sh /profile cookie 5
# Needs: perf (Debian `linux-perf`), wrk, python3, and `make release` done.
# Loopback only; the server runs over a fresh data directory that is deleted afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
path=${1:?usage: bench/profile.sh PATH [cookie|bearer|none] [SECONDS]}
mode=${2:-cookie}
seconds=${3:-5}
binary=$PWD/dist/gatehouse/gatehouse
[ -x "$binary" ] || { echo "run make release first" >&2; exit 1; }
for tool in perf wrk python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

work=$(mktemp -d)
keep() { [ -z "${PERF_DATA:-}" ] || cp "$work/perf.data" "$PERF_DATA" 2>/dev/null || true; }
trap 'kill "$perf_pid" 2>/dev/null || true; keep; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

(cd "$(dirname "$binary")" && exec env LEPTOS_HASH_FILES=true DATA_DIR="$work/data" \
  LEPTOS_SITE_ADDR=127.0.0.1:$port PUBLIC_URL=$base LEPTOS_OUTPUT_NAME=gatehouse \
  LEPTOS_SITE_ROOT=site LEPTOS_ENV=PROD RUST_LOG=error REGISTRATION_LIMIT=1000 \
  perf record -q -e task-clock -F 499 --call-graph dwarf,16384 -o "$work/perf.data" \
  ./gatehouse >"$work/server.log" 2>&1) &
perf_pid=$!
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.2; done

person='{"email":"ada@example.com","password":"violet tundra kettle 42"}'
curl -sf -X POST -H 'content-type: application/json' -d "$person" "$base/api/v1/auth/register" >/dev/null
token=$(curl -sf -X POST -H 'content-type: application/json' -d "$person" "$base/api/v1/auth/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
case $mode in
  cookie) header="Cookie: gatehouse_access=$token" ;;
  bearer) header="Authorization: Bearer $token" ;;
  none) header="Accept: text/html" ;;
  *) echo "mode is cookie, bearer or none" >&2; exit 1 ;;
esac
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$base$path")
echo "GET $path ($mode): $status"
wrk -t1 -c32 -d"${seconds}s" -H "$header" "$base$path" | grep -E 'Requests/sec|Non-2xx'
pkill -INT -f "^./gatehouse$" || true
wait "$perf_pid" || true

echo
echo "Hottest functions by self time (all threads):"
perf report -i "$work/perf.data" --no-children --no-inline --sort sym -g none --percent-limit 1 --stdio 2>/dev/null |
  grep -E '^ +[0-9]' | cut -c1-150 | head -25
echo
perf script -i "$work/perf.data" --no-inline -F comm,ip,sym 2>/dev/null | python3 bench/stages.py
