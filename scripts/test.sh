#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what the tests need, then runs
# formatting, lints and the whole test suite. Safe to run repeatedly; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# One build, run once: incremental compilation only pays on the next edit, and its caches took as much disk as
# the build itself.
export CARGO_INCREMENTAL=0

log "tools"
scripts/ensure-tools.sh

# n8n's install is mostly download and a native build: it runs beside the Rust build instead of before the
# n8n stage. Its output is kept and shown when it fails; the n8n stage waits for it.
n8n_install_log=$(mktemp)
if [ "${BITCONN_SKIP_N8N:-}" != 1 ]; then
  scripts/ensure-n8n.sh >"$n8n_install_log" 2>&1 &
  n8n_install=$!
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests"
cargo nextest run --workspace --locked --no-fail-fast "$@"

log "fuzz targets, a short fixed run each (scripts/fuzz.sh)"
scripts/fuzz.sh "${FUZZ_RUNS:-5000}"

log "lambda functions under cargo lambda (scripts/lambda-smoke.sh)"
scripts/lambda-smoke.sh

log "the docs/n8n workflow pack in real n8n (scripts/n8n-pack.sh; BITCONN_SKIP_N8N=1 skips it)"
if [ -n "${n8n_install:-}" ] && ! wait "$n8n_install"; then
  cat "$n8n_install_log" >&2
  echo "the n8n install failed" >&2
  exit 1
fi
cat "$n8n_install_log"
scripts/n8n-pack.sh
