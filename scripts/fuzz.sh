#!/usr/bin/env bash
# Builds every cargo-fuzz target under fuzz/ and runs each for a fixed number of inputs: `scripts/fuzz.sh [RUNS]`
# (default 20000, as the test command runs it). The short runs use an unoptimised build, which compiles in about
# half the time; FUZZ_BUILD=-O optimises. A long run of one target: `cd fuzz && cargo +nightly fuzz run -O body`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs="${1:-20000}"
build="${FUZZ_BUILD:---dev}"
cargo +nightly fuzz build "$build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $(cargo +nightly fuzz list); do
  if ! cargo +nightly fuzz run "$build" "$target" -- -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed" >&2
    exit 1
  fi
  echo "fuzz $target: $(grep -E '^Done [0-9]+ runs' "$log" || echo "ran $runs inputs")"
done
