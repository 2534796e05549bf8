#!/usr/bin/env bash
# Throughput of `bitconn serve` (release) against its bundled Odoo simulator (no injected latency), with the
# execution log on and off: requests/s and latency percentiles from the serve_load example.
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${CONCURRENCY:-16}
DURATION=${DURATION:-10}
cargo build -q --release -p bitconn-cli --bin bitconn --example serve_load
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

for log in on off; do
  out="$WORK/serve-$log.out"
  ${CARGO_TARGET_DIR:-target}/release/bitconn --json serve --store "sqlite:$WORK/$log.db" --listen 127.0.0.1:0 --execution-log "$log" \
    >"$out" 2>"$WORK/serve-$log.err" &
  SERVER=$!
  for _ in $(seq 1 300); do grep -q '"listening"' "$out" && break; sleep 0.1; done
  read -r url secret < <(python3 -c '
import json, sys
demo = json.loads(open(sys.argv[1]).readline())
print(demo["url"], demo["secret"])' "$out")
  printf 'execution log %-3s: ' "$log"
  ${CARGO_TARGET_DIR:-target}/release/examples/serve_load "$url" "$secret" "$CONCURRENCY" "$DURATION"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
